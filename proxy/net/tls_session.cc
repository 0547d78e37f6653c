#include "net/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>

#include "net/tls_context.h"

namespace ringproxy::proxy {
namespace {

bool IsIpAddress(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

int Clamp(size_t size) { return static_cast<int>(std::min<size_t>(size, INT_MAX)); }

}  // namespace

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, SSL* ssl)
    : context_(std::move(context)),
      ssl_(ssl),
      in_(BIO_new(BIO_s_mem())),
      out_(BIO_new(BIO_s_mem())) {
  // An empty input buffer means "no more yet", not end of stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

std::unique_ptr<TlsSession> TlsSession::Accept(std::shared_ptr<const TlsContext> context) {
  SSL* ssl = SSL_new(context->get());
  if (ssl == nullptr) return nullptr;
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(context), ssl));
}

std::unique_ptr<TlsSession> TlsSession::Connect(const std::shared_ptr<const TlsContext>& context,
                                                const std::string& host) {
  SSL* ssl = SSL_new(context->get());
  if (ssl == nullptr) return nullptr;
  std::unique_ptr<TlsSession> session(new TlsSession(context, ssl));
  const std::string& name = context->server_name().empty() ? host : context->server_name();
  const bool is_ip = IsIpAddress(name);
  // SNI carries host names only (RFC 6066); an address is verified but not sent.
  if (!is_ip && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (context->verify() && !name.empty()) {
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, name.c_str());
    }
  }
  SSL_set_connect_state(ssl);
  return session;
}

void TlsSession::Receive(const char* data, size_t size) {
  while (size > 0) {
    const int written = BIO_write(in_, data, Clamp(size));
    if (written <= 0) return;  // a memory BIO only fails when out of memory
    data += written;
    size -= static_cast<size_t>(written);
  }
}

ssize_t TlsSession::Read(char* dst, size_t capacity) {
  ERR_clear_error();
  const int got = SSL_read(ssl_, dst, Clamp(capacity));
  if (got > 0) return got;
  const int ssl_error = SSL_get_error(ssl_, got);
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      closed_by_peer_ = true;
      return -1;
    default:
      SetError(ssl_error);
      return -1;
  }
}

bool TlsSession::Seal(ByteBuffer* plaintext) {
  ERR_clear_error();
  bool ok = true;
  if (!SSL_is_init_finished(ssl_)) {
    const int rc = SSL_do_handshake(ssl_);
    if (rc <= 0) {
      const int ssl_error = SSL_get_error(ssl_, rc);
      if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
        SetError(ssl_error);
        ok = false;
      }
    }
  }
  if (ok && SSL_is_init_finished(ssl_)) {
    while (!plaintext->empty()) {
      const int written = SSL_write(ssl_, plaintext->data(), Clamp(plaintext->size()));
      if (written <= 0) {
        SetError(SSL_get_error(ssl_, written));
        ok = false;
        break;
      }
      plaintext->Consume(static_cast<size_t>(written));
    }
  }
  // Whatever is queued goes out, an alert explaining a failure included.
  CollectOutput();
  return ok;
}

void TlsSession::CollectOutput() {
  while (const size_t pending = BIO_ctrl_pending(out_)) {
    char* dst = ciphertext_.PrepareAppend(pending);
    const int got = BIO_read(out_, dst, Clamp(pending));
    if (got <= 0) break;
    ciphertext_.Commit(static_cast<size_t>(got));
  }
}

void TlsSession::Shutdown() {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
}

bool TlsSession::established() const { return SSL_is_init_finished(ssl_) != 0; }

bool TlsSession::has_output() const { return BIO_ctrl_pending(out_) > 0; }

std::string TlsSession::Description() const {
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

void TlsSession::SetError(int ssl_error) {
  error_.clear();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ = "certificate verify failed: ";
    error_ += X509_verify_cert_error_string(verify);
  }
  char line[256];
  while (const unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, line, sizeof(line));
    if (!error_.empty()) error_ += "; ";
    error_ += line;
  }
  if (error_.empty()) {
    error_ = ssl_error == SSL_ERROR_SYSCALL ? "the peer ended the connection mid-record"
                                            : "TLS error " + std::to_string(ssl_error);
  }
}

}  // namespace ringproxy::proxy
