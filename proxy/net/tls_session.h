// TlsSession: the TLS state of one connection, over memory buffers rather than the socket, so
// that the connection keeps doing its own (libuv) reads and writes: ciphertext read from the
// socket goes in with Receive(), plaintext comes out of Read(); plaintext to send goes in with
// Seal(), which hands back the ciphertext to write. The handshake happens inside these calls.
#pragma once

#include <openssl/types.h>
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "base/byte_buffer.h"

namespace ringproxy::proxy {

class TlsContext;

class TlsSession {
 public:
  // The server side of a client's connection.
  static std::unique_ptr<TlsSession> Accept(std::shared_ptr<const TlsContext> context);
  // The client side of a connection to a server: SNI and the name verified are the context's
  // server_name, else `host` (a DNS name, or an IP address checked against the certificate's).
  static std::unique_ptr<TlsSession> Connect(const std::shared_ptr<const TlsContext>& context,
                                             const std::string& host);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext from the peer.
  void Receive(const char* data, size_t size);
  // Decrypts into dst[0..capacity). Returns the bytes written; 0 when more ciphertext is needed;
  // -1 when the session failed (error() says why) or the peer ended it (closed_by_peer()).
  ssize_t Read(char* dst, size_t capacity);
  // Encrypts all of `plaintext` once the handshake is done (until then it stays there), and
  // appends whatever the session has to send (handshake, records, alerts) to ciphertext().
  // False when the session failed.
  bool Seal(ByteBuffer* plaintext);
  // Ciphertext to write to the socket; the connection consumes what it wrote.
  ByteBuffer& ciphertext() { return ciphertext_; }
  const ByteBuffer& ciphertext() const { return ciphertext_; }
  // Moves what the session has queued to send into ciphertext(), without advancing the
  // handshake: after a failure, the alert that says why.
  void CollectOutput();
  // Queues a close_notify alert; the next Seal() adds it to ciphertext().
  void Shutdown();

  bool established() const;
  bool has_output() const;
  bool closed_by_peer() const { return closed_by_peer_; }
  const std::string& error() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs.
  std::string Description() const;

 private:
  TlsSession(std::shared_ptr<const TlsContext> context, SSL* ssl);
  // Records why the last call failed (OpenSSL's error queue and the verification result).
  void SetError(int ssl_error);

  std::shared_ptr<const TlsContext> context_;  // keeps the SSL_CTX alive as long as the SSL
  SSL* ssl_;
  BIO* in_;   // ciphertext received, owned by ssl_
  BIO* out_;  // ciphertext to send, owned by ssl_
  ByteBuffer ciphertext_;
  bool closed_by_peer_ = false;
  std::string error_;
};

}  // namespace ringproxy::proxy
