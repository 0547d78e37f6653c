#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace ringproxy::proxy {
namespace {

// OpenSSL's queued errors as one line ("error:0A000086:SSL routines::certificate verify
// failed"), then clears the queue so the next operation starts clean.
std::string OpenSslErrors() {
  std::string text;
  char line[256];
  while (const unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, line, sizeof(line));
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

bool Fail(const char* what, const std::string& path, std::string* error) {
  *error = std::string(what) + " '" + path + "': " + OpenSslErrors();
  return false;
}

// Settings both directions share: TLS 1.2 at least, and buffers returned while a connection is
// idle (most client connections are, and each would otherwise keep ~34 KB).
SSL_CTX* NewContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

// The TLS 1.2 suites offered (TLS 1.3's are OpenSSL's, all AEAD). A list that names no cipher
// OpenSSL knows is an error now rather than a handshake failure later.
bool UseCiphers(SSL_CTX* ctx, const std::string& ciphers, const char* what, std::string* error) {
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    *error = std::string(what) + " ciphers '" + ciphers + "': " + OpenSslErrors();
    return false;
  }
  return true;
}

bool UseCertificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                    const char* prefix, std::string* error) {
  const std::string cert_what = std::string(prefix) + " cert_file";
  const std::string key_what = std::string(prefix) + " key_file";
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Fail(cert_what.c_str(), cert_file, error);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Fail(key_what.c_str(), key_file, error);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Fail(key_what.c_str(), key_file + "' does not match '" + cert_file, error);
  }
  return true;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<const TlsContext> TlsContext::ForClients(const config::ListenTlsConfig& tls,
                                                         std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = NewContext(TLS_server_method());
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + OpenSslErrors();
    return nullptr;
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx));
  if (!UseCiphers(ctx, tls.ciphers, "tls", error)) return nullptr;
  // The server's order decides, so a client that lists a weaker suite first does not get it;
  // DHE suites (when listed) get parameters sized to the certificate's key.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_dh_auto(ctx, 1);
  if (!UseCertificate(ctx, tls.cert_file, tls.key_file, "tls", error)) return nullptr;
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1) {
      Fail("tls ca_file", tls.ca_file, error);
      return nullptr;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    // Verified when presented; required only with auth_clients.
    SSL_CTX_set_verify(
        ctx, SSL_VERIFY_PEER | (tls.auth_clients ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nullptr);
  }
  // Resumed sessions of verified clients need a context id, or OpenSSL refuses the resumption.
  static constexpr unsigned char kSessionContext[] = "ringproxy";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  return context;
}

std::shared_ptr<const TlsContext> TlsContext::ForServers(const config::ServerTlsConfig& tls,
                                                         std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = NewContext(TLS_client_method());
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + OpenSslErrors();
    return nullptr;
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx));
  context->verify_ = tls.verify;
  context->server_name_ = tls.server_name;
  if (!UseCiphers(ctx, tls.ciphers, "server_tls", error)) return nullptr;
  if (!tls.cert_file.empty() &&
      !UseCertificate(ctx, tls.cert_file, tls.key_file, "server_tls", error)) {
    return nullptr;
  }
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1) {
      Fail("server_tls ca_file", tls.ca_file, error);
      return nullptr;
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    *error = "server_tls: cannot load the system's trusted CAs: " + OpenSslErrors();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return context;
}

bool LoadPoolTls(const config::Config& config, std::vector<PoolTls>* out, std::string* error) {
  out->clear();
  for (const config::PoolConfig& pool : config.pools) {
    PoolTls tls;
    std::string why;
    if (pool.tls.used() && (tls.clients = TlsContext::ForClients(pool.tls, &why)) == nullptr) {
      *error = "pool '" + pool.name + "': " + why;
      return false;
    }
    if (pool.server_tls.enabled &&
        (tls.servers = TlsContext::ForServers(pool.server_tls, &why)) == nullptr) {
      *error = "pool '" + pool.name + "': " + why;
      return false;
    }
    out->push_back(std::move(tls));
  }
  return true;
}

bool LoadsTlsKeys(const config::Config& config) {
  for (const config::PoolConfig& pool : config.pools) {
    if (!pool.tls.key_file.empty() || !pool.server_tls.key_file.empty()) return true;
  }
  return false;
}

std::vector<std::string> TlsFiles(const config::Config& config) {
  std::vector<std::string> files;
  for (const config::PoolConfig& pool : config.pools) {
    for (const std::string* path :
         {&pool.tls.cert_file, &pool.tls.key_file, &pool.tls.ca_file, &pool.server_tls.ca_file,
          &pool.server_tls.cert_file, &pool.server_tls.key_file}) {
      if (!path->empty()) files.push_back(*path);
    }
  }
  return files;
}

}  // namespace ringproxy::proxy
