// The configuration as plain structs: what nutcracker.yml says, with nutcracker's defaults filled
// in and its rules already checked. Nothing here knows YAML; config_loader.h produces these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hashing/distribution.h"
#include "hashing/hash_function.h"

namespace ringproxy::config {

// Where a value came from, for messages that point at the file ("ringproxy.yml:7:3").
struct SourceLocation {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  bool operator==(const SourceLocation&) const = default;
};

struct ListenAddress {
  std::string host;               // TCP: host or address as written ("0.0.0.0", "localhost")
  uint16_t port = 0;              // TCP only
  std::string unix_path;          // non-empty for a unix socket listener ("/tmp/r.sock")
  uint32_t unix_permissions = 0;  // octal mode given after the path, 0 when none

  bool is_unix() const { return !unix_path.empty(); }
  bool operator==(const ListenAddress&) const = default;
};

struct ServerConfig {
  std::string host;  // as written: an address or a DNS name; empty for a unix socket server
  uint16_t port = 0;
  std::string unix_path;
  uint32_t weight = 1;
  // The hashing name, exactly as nutcracker forms it: the explicit name when given (even an empty
  // one, from a quoted "host:port:weight " with a trailing space); else "host:port" as written
  // (a port spelt "07001" stays so); else just "host" when the port is 11211 (nutcracker keeps
  // libmemcached's ketama names); else, for a unix socket, the path followed by ':'.
  std::string name;
  bool has_explicit_name = false;
  SourceLocation where;

  bool is_unix() const { return !unix_path.empty(); }
  bool operator==(const ServerConfig&) const = default;
};

// ringproxy's `statefulset:` shorthand, as written with its defaults filled in. The loader expands
// it into PoolConfig::servers (one per pod, named after the pod), so nothing past the loader needs
// to read it; it is kept for messages and for tools that show where the servers came from.
struct StatefulSetConfig {
  std::string name;     // pod name prefix: pods are <name>-0 .. <name>-(replicas-1)
  std::string service;  // the headless Service; empty when the pool does not use the shorthand
  uint32_t replicas = 0;
  uint16_t port = 6379;
  std::string namespace_name;  // empty: hosts are short names, <pod>.<service>
  std::string cluster_domain = "cluster.local";
  uint32_t weight = 1;

  bool used() const { return !service.empty(); }
  bool operator==(const StatefulSetConfig&) const = default;
};

// The TLS 1.2 cipher suites offered by default (OpenSSL's cipher-list syntax): forward-secret key
// exchange and AEAD only, so neither static-RSA key exchange nor CBC with SHA-1 is ever agreed.
// TLS 1.3 keeps OpenSSL's own suites, all of which are AEAD.
inline constexpr std::string_view kDefaultTlsCiphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20";

// A TLS handshake with a client must finish this long after the connection was accepted.
inline constexpr int64_t kDefaultTlsHandshakeTimeoutMs = 5000;

// ringproxy's `tls:` mapping: TLS on the pool's listening socket. Paths are absolute (relative
// ones are resolved against the configuration file's directory when loaded); the files are read
// when the proxy loads the configuration, and again whenever one of them changes.
struct ListenTlsConfig {
  std::string cert_file;                    // PEM certificate chain presented to clients
  std::string key_file;                     // its PEM private key
  std::string ca_file;                      // PEM CA bundle that client certificates must chain to
  bool auth_clients = false;                // require a client certificate (needs ca_file)
  std::string ciphers{kDefaultTlsCiphers};  // TLS 1.2 cipher list (OpenSSL syntax)
  // A client whose handshake has not finished this long after its accept is closed, whatever
  // client_idle_timeout says: a stalled handshake holds tens of KB.
  int64_t handshake_timeout_ms = kDefaultTlsHandshakeTimeoutMs;

  bool used() const { return !cert_file.empty(); }
  bool operator==(const ListenTlsConfig&) const = default;
};

// ringproxy's `server_tls:` mapping: TLS on the proxy's connections to the pool's servers.
struct ServerTlsConfig {
  bool enabled = false;   // the mapping is present
  std::string ca_file;    // PEM CA bundle server certificates must chain to; empty: the system's
  std::string cert_file;  // client certificate presented to servers (Redis asks for one by default)
  std::string key_file;   // its PEM private key
  // The name sent as SNI and checked against each server's certificate. Empty: the server's own
  // host as configured (its DNS name, or its IP address checked against the certificate's IPs).
  std::string server_name;
  bool verify = true;  // false: accept any certificate (the link is encrypted, not authenticated)
  std::string ciphers{kDefaultTlsCiphers};  // TLS 1.2 cipher list (OpenSSL syntax)

  bool operator==(const ServerTlsConfig&) const = default;
};

// Redis's client-output-buffer-limit, for the replies a client has not read yet: past the hard
// limit it is disconnected at once; at the soft limit the proxy stops forwarding its requests,
// and disconnects it if it stays there for soft_seconds without taking or sending a byte.
// 0: no limit.
struct OutputBufferLimit {
  uint64_t hard_bytes = uint64_t{1} << 30;
  uint64_t soft_bytes = uint64_t{32} << 20;
  uint64_t soft_seconds = 10;

  bool operator==(const OutputBufferLimit&) const = default;
};

struct PoolConfig {
  std::string name;
  SourceLocation where;

  ListenAddress listen;
  hashing::HashKind hash = hashing::HashKind::kFnv1a_64;
  std::string hash_tag;  // empty or exactly two characters
  hashing::Distribution distribution = hashing::Distribution::kKetama;
  int64_t timeout_ms = -1;  // -1: wait forever
  int backlog = 512;
  // Parsed and range-checked as nutcracker does; nutcracker then discards it (it resets the field
  // to 0 after parsing) and enforces nothing. Kept here as written.
  int client_connections = 0;
  bool redis = false;
  // The password, wherever it came from: redis_auth, or the file or environment variable named by
  // redis_auth_file / redis_auth_env (read once per load, so a reload picks up a rotated Secret).
  std::string redis_auth;
  std::string redis_auth_file;  // the file actually read (relative paths resolved), else empty
  std::string redis_auth_env;   // the variable actually read, else empty
  // The password the proxy sends to its servers when it is not the clients' one: from
  // server_auth, or the file or variable named by server_auth_file / server_auth_env. Empty: the
  // servers get redis_auth, as in nutcracker. Use server_password().
  std::string server_auth;
  std::string server_auth_file;  // the file actually read (relative paths resolved), else empty
  std::string server_auth_env;   // the variable actually read, else empty
  // Redis ACL user for the proxy's own server connections: `AUTH <user> <password>` instead of
  // `AUTH <password>`. Empty: no user. Never set without a server password.
  std::string server_auth_user;
  int redis_db = 0;
  bool tcpkeepalive = false;
  bool reuseport = false;
  bool preconnect = false;
  bool auto_eject_hosts = false;
  int server_connections = 1;
  int64_t server_retry_timeout_ms = 30000;
  int server_failure_limit = 2;
  // ringproxy's limits on clients. Client connections open at once over all workers; one more
  // is refused with Redis's "max number of clients reached". 0: no limit.
  int max_clients = 0;
  // A client with nothing in flight that sends nothing for this long is closed (Redis's
  // `timeout`, in milliseconds as nutcracker's timeouts are). 0: never.
  int64_t client_idle_timeout_ms = 0;
  // Server connections pinned to one client each (WATCH holds one until EXEC), per server over
  // all workers. One more is refused with an error rather than waited for. 0: no limit.
  int max_pinned_connections = 256;
  // Unset: the --client-output-buffer-limit and --client-query-buffer-limit flags, else the
  // defaults of OutputBufferLimit and WorkerSettings.
  std::optional<OutputBufferLimit> client_output_buffer_limit;
  // Requests a client may send ahead while its replies are past the soft limit (the proxy keeps
  // reading it, so a client that writes its whole pipeline before reading can finish).
  std::optional<uint64_t> client_query_buffer_limit;
  // Refuse EVAL, EVALSHA, FCALL (and their _RO forms), SCRIPT and FUNCTION: a script runs on the
  // shard with whatever rights the proxy's connection has, around the commands the proxy refuses.
  bool refuse_scripts = false;
  // Let FLUSHDB and FLUSHALL through (to every server). Off by default: one command through the
  // proxy would empty every shard of the pool.
  bool allow_flush = false;

  // In nutcracker's order (hashing::NutcrackerNameLess on name): the server index everywhere.
  // From `servers:`, or expanded from `statefulset:`; empty for an `srv:` pool, whose members are
  // only known at run time.
  std::vector<ServerConfig> servers;
  StatefulSetConfig statefulset;  // used() when the servers were expanded from it
  // A DNS SRV name (e.g. "_redis._tcp.redis-headless.default.svc.cluster.local") whose targets are
  // the pool's servers, discovered at run time. Empty: the members are `servers`.
  std::string srv;

  ListenTlsConfig tls;
  ServerTlsConfig server_tls;

  // What the proxy authenticates to its servers with (empty: nothing).
  const std::string& server_password() const {
    return server_auth.empty() ? redis_auth : server_auth;
  }

  bool operator==(const PoolConfig&) const = default;
};

struct Config {
  std::string path;
  std::vector<PoolConfig> pools;  // in file order

  bool operator==(const Config&) const = default;
};

}  // namespace ringproxy::config
