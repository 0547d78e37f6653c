#include "config/pool_key.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "config/byte_size.h"
#include "config/dns_name.h"
#include "config/listen_line.h"
#include "config/nutcracker_number.h"
#include "config/password_source.h"
#include "config/server_line.h"
#include "config/statefulset_expansion.h"
#include "hashing/distribution.h"
#include "hashing/hash_function.h"

namespace ringproxy::config {
namespace {

using Reason = std::optional<std::string>;

template <auto Field>
Reason ParseNumber(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  std::string reason;
  const std::optional<int> number = ParseNutcrackerNumber(value.text, &reason);
  if (!number) {
    return reason;
  }
  pool->*Field = *number;
  return std::nullopt;
}

Reason ParseOutputBufferLimitKey(const YamlNode& value, const PoolKeyContext& /*context*/,
                                 PoolConfig* pool) {
  std::string reason;
  const std::optional<OutputBufferLimit> limit = ParseOutputBufferLimit(value.text, &reason);
  if (!limit) return reason;
  pool->client_output_buffer_limit = *limit;
  return std::nullopt;
}

Reason ParseQueryBufferLimitKey(const YamlNode& value, const PoolKeyContext& /*context*/,
                                PoolConfig* pool) {
  std::string reason;
  const std::optional<uint64_t> bytes = ParseByteSize(value.text, &reason);
  if (!bytes) return reason;
  if (*bytes == 0) return std::string("must be more than 0");
  pool->client_query_buffer_limit = *bytes;
  return std::nullopt;
}

// nutcracker compares with "true" and "false" byte for byte: no yes/no, on/off, True or 1.
template <bool PoolConfig::*Field>
Reason ParseBool(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  if (value.text == "true") {
    pool->*Field = true;
  } else if (value.text == "false") {
    pool->*Field = false;
  } else {
    return std::string("is not \"true\" or \"false\" (nutcracker accepts only these two)");
  }
  return std::nullopt;
}

std::string JoinNames(std::span<const std::string_view> names) {
  std::string joined;
  for (const std::string_view name : names) {
    if (!joined.empty()) {
      joined += ", ";
    }
    joined += name;
  }
  return joined;
}

Reason ParseListen(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  return ParseListenLine(value.text, &pool->listen);
}

Reason ParseHash(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  const std::optional<hashing::HashKind> kind = hashing::ParseHashKind(value.text);
  if (!kind) {
    return "is not one of: " + JoinNames(hashing::HashKindNames());
  }
  pool->hash = *kind;
  return std::nullopt;
}

Reason ParseHashTag(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  // Two bytes, as nutcracker counts: the opening and the closing character, e.g. "{}".
  if (value.text.size() != 2) {
    return std::string("is not two characters (an opening and a closing one, e.g. \"{}\")");
  }
  pool->hash_tag = value.text;
  return std::nullopt;
}

Reason ParseDistribution(const YamlNode& value, const PoolKeyContext& /*context*/,
                         PoolConfig* pool) {
  const std::optional<hashing::Distribution> distribution = hashing::ParseDistribution(value.text);
  if (!distribution) {
    static constexpr std::array<hashing::Distribution, 3> kAll = {hashing::Distribution::kKetama,
                                                                  hashing::Distribution::kModula,
                                                                  hashing::Distribution::kRandom};
    std::array<std::string_view, kAll.size()> names;
    for (size_t i = 0; i < kAll.size(); ++i) {
      names[i] = hashing::DistributionName(kAll[i]);
    }
    return "is not one of: " + JoinNames(names);
  }
  pool->distribution = *distribution;
  return std::nullopt;
}

Reason ParseRedisAuth(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  pool->redis_auth = value.text;
  return std::nullopt;
}

Reason ParseServerConnections(const YamlNode& value, const PoolKeyContext& context,
                              PoolConfig* pool) {
  if (Reason reason = ParseNumber<&PoolConfig::server_connections>(value, context, pool)) {
    return reason;
  }
  if (pool->server_connections == 0) {
    return std::string("cannot be 0: at least one connection per server is needed");
  }
  return std::nullopt;
}

Reason AddServer(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  ServerConfig server;
  if (Reason reason = ParseServerLine(value.text, &server)) {
    return reason;
  }
  server.where = value.where;
  pool->servers.push_back(std::move(server));
  return std::nullopt;
}

// A number in [low, high], read as nutcracker reads numbers.
std::optional<int> ParseBoundedNumber(std::string_view text, int low, int high,
                                      std::string* reason) {
  const std::optional<int> number = ParseNutcrackerNumber(text, reason);
  if (!number) {
    return std::nullopt;
  }
  if (*number < low || *number > high) {
    *reason = "is out of range: " + std::to_string(low) + "-" + std::to_string(high) + " expected";
    return std::nullopt;
  }
  return number;
}

// ---- ringproxy's extensions ---------------------------------------------------------------------

Reason ParseStatefulSetName(const YamlNode& value, const PoolKeyContext& /*context*/,
                            PoolConfig* pool) {
  if (Reason reason = CheckKubernetesName(value.text)) {
    return reason;
  }
  pool->statefulset.name = value.text;
  return std::nullopt;
}

Reason ParseStatefulSetService(const YamlNode& value, const PoolKeyContext& /*context*/,
                               PoolConfig* pool) {
  if (Reason reason = CheckKubernetesName(value.text)) {
    return reason;
  }
  pool->statefulset.service = value.text;
  return std::nullopt;
}

Reason ParseStatefulSetNamespace(const YamlNode& value, const PoolKeyContext& /*context*/,
                                 PoolConfig* pool) {
  if (Reason reason = CheckKubernetesName(value.text)) {
    return reason;
  }
  pool->statefulset.namespace_name = value.text;
  return std::nullopt;
}

Reason ParseStatefulSetClusterDomain(const YamlNode& value, const PoolKeyContext& /*context*/,
                                     PoolConfig* pool) {
  if (Reason reason = CheckDnsName(value.text)) {
    return reason;
  }
  pool->statefulset.cluster_domain = value.text;
  return std::nullopt;
}

Reason ParseStatefulSetReplicas(const YamlNode& value, const PoolKeyContext& /*context*/,
                                PoolConfig* pool) {
  std::string reason;
  const std::optional<int> replicas =
      ParseBoundedNumber(value.text, 1, kMaxStatefulSetReplicas, &reason);
  if (!replicas) {
    return reason;
  }
  pool->statefulset.replicas = static_cast<uint32_t>(*replicas);
  return std::nullopt;
}

Reason ParseStatefulSetPort(const YamlNode& value, const PoolKeyContext& /*context*/,
                            PoolConfig* pool) {
  std::string reason;
  const std::optional<int> port = ParseBoundedNumber(value.text, 1, 65535, &reason);
  if (!port) {
    return reason;
  }
  pool->statefulset.port = static_cast<uint16_t>(*port);
  return std::nullopt;
}

Reason ParseStatefulSetWeight(const YamlNode& value, const PoolKeyContext& /*context*/,
                              PoolConfig* pool) {
  std::string reason;
  const std::optional<int> weight =
      ParseBoundedNumber(value.text, 1, std::numeric_limits<int>::max(), &reason);
  if (!weight) {
    return reason;
  }
  pool->statefulset.weight = static_cast<uint32_t>(*weight);
  return std::nullopt;
}

// Runs once the mapping's entries are applied (the loader has checked that the required ones are
// there): the rules across entries, then the expansion into ordinary servers.
Reason ExpandStatefulSetKey(const YamlNode& value, const PoolKeyContext& /*context*/,
                            PoolConfig* pool) {
  const bool has_domain =
      std::any_of(value.entries.begin(), value.entries.end(),
                  [](const YamlEntry& entry) { return entry.key.text == "cluster_domain"; });
  if (has_domain && pool->statefulset.namespace_name.empty()) {
    // Without a namespace the hosts are short names and the domain would be silently unused.
    return std::string(
        "has a cluster_domain but no namespace: the domain is only used in full names "
        "(<pod>.<service>.<namespace>.svc.<cluster_domain>); give the namespace too");
  }
  return ExpandStatefulSet(&pool->statefulset, value.where, &pool->servers);
}

Reason ParseSrv(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  if (Reason reason = CheckDnsName(value.text)) {
    return reason;
  }
  pool->srv = value.text;
  return std::nullopt;
}

Reason ParseRedisAuthFile(const YamlNode& value, const PoolKeyContext& context, PoolConfig* pool) {
  std::string path = ResolvePasswordPath(value.text, context.config_dir);
  if (Reason reason = ReadPasswordFile(path, &pool->redis_auth)) {
    return reason;
  }
  pool->redis_auth_file = std::move(path);
  return std::nullopt;
}

Reason ParseRedisAuthEnv(const YamlNode& value, const PoolKeyContext& /*context*/,
                         PoolConfig* pool) {
  if (Reason reason = ReadPasswordEnv(value.text, &pool->redis_auth)) {
    return reason;
  }
  pool->redis_auth_env = value.text;
  return std::nullopt;
}

Reason ParseServerAuth(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  pool->server_auth = value.text;
  return std::nullopt;
}

Reason ParseServerAuthFile(const YamlNode& value, const PoolKeyContext& context, PoolConfig* pool) {
  std::string path = ResolvePasswordPath(value.text, context.config_dir);
  if (Reason reason = ReadPasswordFile(path, &pool->server_auth)) {
    return reason;
  }
  pool->server_auth_file = std::move(path);
  return std::nullopt;
}

Reason ParseServerAuthEnv(const YamlNode& value, const PoolKeyContext& /*context*/,
                          PoolConfig* pool) {
  if (Reason reason = ReadPasswordEnv(value.text, &pool->server_auth)) {
    return reason;
  }
  pool->server_auth_env = value.text;
  return std::nullopt;
}

Reason ParseServerAuthUser(const YamlNode& value, const PoolKeyContext& /*context*/,
                           PoolConfig* pool) {
  // Redis refuses ACL user names with blanks (ACL SETUSER cannot create one), so such a name is
  // a mistake that would only show as a failed handshake later.
  for (const unsigned char c : value.text) {
    if (c <= ' ' || c == 0x7f) {
      return std::string("holds a blank or a control character, which no Redis ACL user name has");
    }
  }
  pool->server_auth_user = value.text;
  return std::nullopt;
}

// ---- TLS: `tls:` (the listener) and `server_tls:` (connections to servers)
// -----------------------

// A PEM file's path; read later, when the proxy builds its TLS contexts (and again on change).
template <std::string ListenTlsConfig::*Field>
Reason ParseListenTlsPath(const YamlNode& value, const PoolKeyContext& context, PoolConfig* pool) {
  pool->tls.*Field = ResolvePasswordPath(value.text, context.config_dir);
  return std::nullopt;
}

template <std::string ServerTlsConfig::*Field>
Reason ParseServerTlsPath(const YamlNode& value, const PoolKeyContext& context, PoolConfig* pool) {
  pool->server_tls.*Field = ResolvePasswordPath(value.text, context.config_dir);
  return std::nullopt;
}

Reason ParseTlsFlag(const YamlNode& value, bool* flag) {
  if (value.text == "true") {
    *flag = true;
  } else if (value.text == "false") {
    *flag = false;
  } else {
    return std::string("is not \"true\" or \"false\"");
  }
  return std::nullopt;
}

Reason ParseTlsHandshakeTimeout(const YamlNode& value, const PoolKeyContext& /*context*/,
                                PoolConfig* pool) {
  std::string reason;
  // At least 1: a handshake without a bound is what the key is there to prevent.
  const std::optional<int> timeout =
      ParseBoundedNumber(value.text, 1, std::numeric_limits<int>::max(), &reason);
  if (!timeout) {
    return reason;
  }
  pool->tls.handshake_timeout_ms = *timeout;
  return std::nullopt;
}

// An OpenSSL cipher list, checked when the TLS context is built (`ringproxy -t` builds it):
// whether it names any cipher is OpenSSL's to say.
template <auto Tls>
Reason ParseTlsCiphers(const YamlNode& value, const PoolKeyContext& /*context*/, PoolConfig* pool) {
  for (const unsigned char c : value.text) {
    if (c <= ' ' || c == 0x7f) {
      return std::string("holds a blank or a control character; separate ciphers with ':'");
    }
  }
  (pool->*Tls).ciphers = value.text;
  return std::nullopt;
}

Reason ParseTlsAuthClients(const YamlNode& value, const PoolKeyContext& /*context*/,
                           PoolConfig* pool) {
  return ParseTlsFlag(value, &pool->tls.auth_clients);
}

Reason ParseServerTlsVerify(const YamlNode& value, const PoolKeyContext& /*context*/,
                            PoolConfig* pool) {
  return ParseTlsFlag(value, &pool->server_tls.verify);
}

Reason ParseServerTlsName(const YamlNode& value, const PoolKeyContext& /*context*/,
                          PoolConfig* pool) {
  if (Reason reason = CheckDnsName(value.text)) {
    return reason;
  }
  pool->server_tls.server_name = value.text;
  return std::nullopt;
}

Reason CheckListenTls(const YamlNode& /*value*/, const PoolKeyContext& /*context*/,
                      PoolConfig* pool) {
  if (pool->tls.auth_clients && pool->tls.ca_file.empty()) {
    return std::string("has auth_clients: true but no ca_file to verify client certificates with");
  }
  return std::nullopt;
}

Reason CheckServerTls(const YamlNode& /*value*/, const PoolKeyContext& /*context*/,
                      PoolConfig* pool) {
  if (pool->server_tls.cert_file.empty() != pool->server_tls.key_file.empty()) {
    return std::string("needs both cert_file and key_file for a client certificate, or neither");
  }
  pool->server_tls.enabled = true;
  return std::nullopt;
}

using Shape = PoolKey::Shape;
using Group = PoolKey::Group;

constexpr std::array kStatefulSetKeys = {
    PoolSubKey{"name", false, "", ParseStatefulSetName,
               "The StatefulSet's name: its pods are <name>-0 .. <name>-(replicas-1). Default: "
               "the service without a trailing \"-headless\"."},
    PoolSubKey{"service", true, "", ParseStatefulSetService,
               "The headless Service that gives each pod its DNS name."},
    PoolSubKey{"replicas", true, "", ParseStatefulSetReplicas,
               "How many pods, 1-1024; one server each."},
    PoolSubKey{"port", false, "6379", ParseStatefulSetPort, "Redis port of every pod."},
    PoolSubKey{"namespace", false, "", ParseStatefulSetNamespace,
               "With it, hosts are <pod>.<service>.<namespace>.svc.<cluster_domain>; without it, "
               "<pod>.<service>, resolved through resolv.conf's search list as from a pod in the "
               "same namespace."},
    PoolSubKey{"cluster_domain", false, "cluster.local", ParseStatefulSetClusterDomain,
               "The cluster's DNS domain (only with namespace)."},
    PoolSubKey{"weight", false, "1", ParseStatefulSetWeight, "Weight of every pod's server."},
};

constexpr std::span<const PoolSubKey> kNoEntries;

constexpr std::array kListenTlsKeys = {
    PoolSubKey{"cert_file", true, "", ParseListenTlsPath<&ListenTlsConfig::cert_file>,
               "PEM certificate (chain) presented to clients; relative to the configuration "
               "file's directory when relative."},
    PoolSubKey{"key_file", true, "", ParseListenTlsPath<&ListenTlsConfig::key_file>,
               "Its PEM private key."},
    PoolSubKey{"ca_file", false, "", ParseListenTlsPath<&ListenTlsConfig::ca_file>,
               "PEM CA bundle that client certificates are verified against."},
    PoolSubKey{"auth_clients", false, "false", ParseTlsAuthClients,
               "true: a client without a certificate signed by ca_file is refused."},
    PoolSubKey{"ciphers", false, kDefaultTlsCiphers, ParseTlsCiphers<&PoolConfig::tls>,
               "TLS 1.2 cipher suites offered, in OpenSSL's cipher-list syntax. The default has "
               "forward-secret key exchange and AEAD ciphers only (no static RSA, no CBC); TLS 1.3 "
               "uses OpenSSL's suites."},
    PoolSubKey{"handshake_timeout", false, "5000", ParseTlsHandshakeTimeout,
               "Milliseconds a client has from its connection to the end of its TLS handshake; "
               "then it is closed, whatever client_idle_timeout says."},
};

constexpr std::array kServerTlsKeys = {
    PoolSubKey{"ca_file", false, "", ParseServerTlsPath<&ServerTlsConfig::ca_file>,
               "PEM CA bundle that server certificates are verified against. Default: the "
               "system's trusted CAs."},
    PoolSubKey{"cert_file", false, "", ParseServerTlsPath<&ServerTlsConfig::cert_file>,
               "PEM client certificate presented to servers (redis-server asks for one unless "
               "tls-auth-clients is no)."},
    PoolSubKey{"key_file", false, "", ParseServerTlsPath<&ServerTlsConfig::key_file>,
               "Its PEM private key."},
    PoolSubKey{"server_name", false, "", ParseServerTlsName,
               "Name sent as SNI and verified in every server's certificate. Default: each "
               "server's own host (a DNS name, or an IP address matched against the "
               "certificate's IP entries)."},
    PoolSubKey{"verify", false, "true", ParseServerTlsVerify,
               "false: accept any server certificate (encrypted, not authenticated)."},
    PoolSubKey{"ciphers", false, kDefaultTlsCiphers, ParseTlsCiphers<&PoolConfig::server_tls>,
               "TLS 1.2 cipher suites offered to servers, in OpenSSL's cipher-list syntax (the "
               "same default as tls.ciphers)."},
};

constexpr std::array kPoolKeys = {
    PoolKey{"listen", Shape::kScalar, Group::kNone, true, "", ParseListen, kNoEntries, true,
            "Where clients connect: \"host:port\" (the host must resolve) or \"/unix/path "
            "[octal permissions]\"."},
    PoolKey{"hash", Shape::kScalar, Group::kNone, false, "fnv1a_64", ParseHash, kNoEntries, true,
            "Key hash function: nutcracker's twelve, plus xxh3."},
    PoolKey{"hash_tag", Shape::kScalar, Group::kNone, false, "", ParseHashTag, kNoEntries, true,
            "Two characters; when a key holds both, only the text between them is hashed. "
            "Default: none."},
    PoolKey{"distribution", Shape::kScalar, Group::kNone, false, "ketama", ParseDistribution,
            kNoEntries, true, "Key to server: ketama (consistent), modula or random."},
    PoolKey{"timeout", Shape::kScalar, Group::kNone, false, "",
            ParseNumber<&PoolConfig::timeout_ms>, kNoEntries, true,
            "Milliseconds to wait for a server's reply. Default: wait forever (-1, which cannot "
            "be written: nutcracker refuses negative numbers)."},
    PoolKey{"backlog", Shape::kScalar, Group::kNone, false, "512",
            ParseNumber<&PoolConfig::backlog>, kNoEntries, true,
            "listen(2) backlog of the pool's socket."},
    PoolKey{"client_connections", Shape::kScalar, Group::kNone, false, "0",
            ParseNumber<&PoolConfig::client_connections>, kNoEntries, true,
            "Accepted for compatibility; nutcracker does not enforce it (max_clients does)."},
    PoolKey{"redis", Shape::kScalar, Group::kNone, false, "false", ParseBool<&PoolConfig::redis>,
            kNoEntries, true,
            "true for a Redis pool. ringproxy speaks Redis only and refuses a pool without it."},
    PoolKey{"tcpkeepalive", Shape::kScalar, Group::kNone, false, "false",
            ParseBool<&PoolConfig::tcpkeepalive>, kNoEntries, true,
            "SO_KEEPALIVE on server connections."},
    PoolKey{"reuseport", Shape::kScalar, Group::kNone, false, "false",
            ParseBool<&PoolConfig::reuseport>, kNoEntries, true,
            "SO_REUSEPORT on the listening socket (twemproxy after 0.5.0; 0.5.0 refuses the key)."},
    PoolKey{"redis_auth", Shape::kScalar, Group::kPassword, false, "", ParseRedisAuth, kNoEntries,
            true,
            "Password clients must AUTH with; also sent to each server. Only with redis: true."},
    PoolKey{"redis_db", Shape::kScalar, Group::kNone, false, "0",
            ParseNumber<&PoolConfig::redis_db>, kNoEntries, true,
            "Database selected on each new server connection."},
    PoolKey{"preconnect", Shape::kScalar, Group::kNone, false, "false",
            ParseBool<&PoolConfig::preconnect>, kNoEntries, true,
            "Connect to every server at start instead of on first use."},
    PoolKey{"auto_eject_hosts", Shape::kScalar, Group::kNone, false, "false",
            ParseBool<&PoolConfig::auto_eject_hosts>, kNoEntries, true,
            "Take a server out of the ring after server_failure_limit failures in a row."},
    PoolKey{"server_connections", Shape::kScalar, Group::kNone, false, "1", ParseServerConnections,
            kNoEntries, true, "Connections to each server (at least 1)."},
    PoolKey{"server_retry_timeout", Shape::kScalar, Group::kNone, false, "30000",
            ParseNumber<&PoolConfig::server_retry_timeout_ms>, kNoEntries, true,
            "Milliseconds an ejected server stays out of the ring."},
    PoolKey{"server_failure_limit", Shape::kScalar, Group::kNone, false, "2",
            ParseNumber<&PoolConfig::server_failure_limit>, kNoEntries, true,
            "Failures in a row that eject a server (with auto_eject_hosts)."},
    // nutcracker requires servers; ringproxy requires one key of the members group instead.
    PoolKey{"servers", Shape::kList, Group::kMembers, false, "", AddServer, kNoEntries, true,
            "One \"host:port:weight [name]\" or \"/unix/path:weight [name]\" per item; the name, "
            "else \"host:port\", is what keys hash to."},
    // ---- ringproxy's extensions: nutcracker refuses each as unknown.
    PoolKey{"statefulset", Shape::kMapping, Group::kMembers, false, "", ExpandStatefulSetKey,
            kStatefulSetKeys, false,
            "The pods of a Kubernetes StatefulSet as servers, instead of servers: a mapping of "
            "name, service, replicas, port, namespace, cluster_domain and weight. Each pod is a "
            "server named after the pod (redis-3), so placement is that of servers written as "
            "\"<host>:<port>:<weight> redis-3\"."},
    PoolKey{"srv", Shape::kScalar, Group::kMembers, false, "", ParseSrv, kNoEntries, false,
            "A DNS SRV name (_redis._tcp.redis-headless.default.svc.cluster.local) whose targets "
            "are the pool's servers, instead of servers: looked up at run time and followed as "
            "it changes; each target is a server named by its first label."},
    PoolKey{"redis_auth_file", Shape::kScalar, Group::kPassword, false, "", ParseRedisAuthFile,
            kNoEntries, false,
            "A file holding the password (e.g. a mounted Kubernetes Secret), read at each load "
            "with trailing CR/LF removed; a relative path is relative to the configuration "
            "file's directory. Instead of redis_auth, with the same meaning."},
    PoolKey{"redis_auth_env", Shape::kScalar, Group::kPassword, false, "", ParseRedisAuthEnv,
            kNoEntries, false,
            "An environment variable holding the password, read at each load with trailing CR/LF "
            "removed. Instead of redis_auth, with the same meaning."},
    PoolKey{"server_auth", Shape::kScalar, Group::kServerPassword, false, "", ParseServerAuth,
            kNoEntries, false,
            "Password the proxy sends to its servers, when it is not the clients' one (without "
            "it, servers get the redis_auth password, as in nutcracker)."},
    PoolKey{"server_auth_file", Shape::kScalar, Group::kServerPassword, false, "",
            ParseServerAuthFile, kNoEntries, false,
            "A file holding the servers' password, read as redis_auth_file is. Instead of "
            "server_auth, with its meaning."},
    PoolKey{"server_auth_env", Shape::kScalar, Group::kServerPassword, false, "",
            ParseServerAuthEnv, kNoEntries, false,
            "An environment variable holding the servers' password, read as redis_auth_env is. "
            "Instead of server_auth, with its meaning."},
    PoolKey{"server_auth_user", Shape::kScalar, Group::kNone, false, "", ParseServerAuthUser,
            kNoEntries, false,
            "Redis ACL user of the proxy's own server connections: they send AUTH <user> "
            "<password> instead of AUTH <password>. Needs a servers' password (server_auth..., "
            "else redis_auth...); clients still AUTH with the redis_auth password alone."},
    PoolKey{"tls", Shape::kMapping, Group::kNone, false, "", CheckListenTls, kListenTlsKeys, false,
            "TLS for clients: a mapping of cert_file, key_file, ca_file and auth_clients. The "
            "pool's listener then speaks TLS only. The files are read again when they change "
            "(a renewed certificate needs no restart)."},
    PoolKey{"server_tls", Shape::kMapping, Group::kNone, false, "", CheckServerTls, kServerTlsKeys,
            false,
            "TLS toward the pool's servers: a mapping of ca_file, cert_file, key_file, "
            "server_name and verify ({} for the defaults). Certificates are verified and "
            "the server name checked unless verify is false."},
    // Not nutcracker's client_connections, which nutcracker parses and ignores: enforcing it
    // would start refusing clients of fleets that set it to no effect and then switch over.
    PoolKey{"max_clients", Shape::kScalar, Group::kNone, false, "0",
            ParseNumber<&PoolConfig::max_clients>, kNoEntries, false,
            "Client connections the pool accepts at once, over all workers; one more gets "
            "\"-ERR max number of clients reached\" and is closed. 0: no limit."},
    PoolKey{"client_idle_timeout", Shape::kScalar, Group::kNone, false, "0",
            ParseNumber<&PoolConfig::client_idle_timeout_ms>, kNoEntries, false,
            "Milliseconds a client with no request in flight may send nothing before it is "
            "closed, as Redis's timeout. 0: never."},
    PoolKey{"max_pinned_connections", Shape::kScalar, Group::kNone, false, "256",
            ParseNumber<&PoolConfig::max_pinned_connections>, kNoEntries, false,
            "Server connections pinned to one client each (a client in WATCH holds one until "
            "EXEC, DISCARD or UNWATCH), per server over all workers; past it WATCH gets an "
            "error. 0: no limit."},
    PoolKey{"client_output_buffer_limit", Shape::kScalar, Group::kNone, false, "",
            ParseOutputBufferLimitKey, kNoEntries, false,
            "Redis's client-output-buffer-limit for the pool's clients, \"<hard> <soft> <soft "
            "seconds>\" (e.g. \"1gb 32mb 10\"): replies a client has not read past the hard "
            "limit disconnect it; at the soft limit its requests wait unforwarded, and it is "
            "disconnected if it takes or sends no byte for the soft seconds. Default: "
            "--client-output-buffer-limit, else \"1gb 32mb 10\"."},
    PoolKey{"client_query_buffer_limit", Shape::kScalar, Group::kNone, false, "",
            ParseQueryBufferLimitKey, kNoEntries, false,
            "Bytes of requests a client may send ahead while its replies are past the soft "
            "output limit; the proxy then stops reading it. Default: --client-query-buffer-limit, "
            "else 64mb."},
    PoolKey{"refuse_scripts", Shape::kScalar, Group::kNone, false, "false",
            ParseBool<&PoolConfig::refuse_scripts>, kNoEntries, false,
            "true: EVAL, EVALSHA, FCALL (and their _RO forms), SCRIPT and FUNCTION are refused. "
            "A script runs on the server with the proxy's rights and reaches every command, the "
            "ones the proxy refuses included."},
    PoolKey{"allow_flush", Shape::kScalar, Group::kNone, false, "false",
            ParseBool<&PoolConfig::allow_flush>, kNoEntries, false,
            "true: FLUSHDB and FLUSHALL are sent to every server of the pool. Otherwise they are "
            "refused: through the proxy one command empties every shard at once."},
};

}  // namespace

std::span<const PoolKey> PoolKeys() { return kPoolKeys; }

const PoolSubKey* FindPoolSubKey(const PoolKey& key, std::string_view name) {
  for (const PoolSubKey& entry : key.entries) {
    if (entry.name == name) {
      return &entry;
    }
  }
  return nullptr;
}

const PoolKey* FindPoolKey(std::string_view name) {
  for (const PoolKey& key : kPoolKeys) {
    if (key.name == name) {
      return &key;
    }
  }
  return nullptr;
}

}  // namespace ringproxy::config
