// TlsContext: one OpenSSL SSL_CTX built from a pool's `tls:` (accepting clients) or
// `server_tls:` (connecting to servers) files. Immutable once built and shared by every worker:
// OpenSSL allows SSL objects to be created from one SSL_CTX on many threads. A renewed
// certificate is a new TlsContext (the control thread rebuilds them when a file changes);
// connections keep the one they started with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <openssl/types.h>

#include "config/pool_config.h"

namespace ringproxy::proxy {

class TlsContext {
 public:
  // Null and `error` set (naming the file and OpenSSL's reason) when a file cannot be used.
  static std::shared_ptr<const TlsContext> ForClients(const config::ListenTlsConfig& tls,
                                                      std::string* error);
  static std::shared_ptr<const TlsContext> ForServers(const config::ServerTlsConfig& tls,
                                                      std::string* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  // Toward servers: whether certificates are verified, and the name checked instead of each
  // server's host (empty: the host).
  bool verify() const { return verify_; }
  const std::string& server_name() const { return server_name_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}

  SSL_CTX* ctx_;
  bool verify_ = false;
  std::string server_name_;
};

// The TLS contexts of one pool; either is null when that side is plain TCP.
struct PoolTls {
  std::shared_ptr<const TlsContext> clients;
  std::shared_ptr<const TlsContext> servers;
};

// Builds every pool's contexts, one PoolTls per pool of `config` in its order. False and `error`
// ("pool 'alpha': tls cert_file '/x.pem': ...") when any file cannot be used.
bool LoadPoolTls(const config::Config& config, std::vector<PoolTls>* out, std::string* error);

// Whether `config` names a private key (tls.key_file, server_tls.key_file).
bool LoadsTlsKeys(const config::Config& config);

// Every TLS file `config` names, for noticing when one changes.
std::vector<std::string> TlsFiles(const config::Config& config);

}  // namespace ringproxy::proxy
