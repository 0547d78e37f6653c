#include "config/pool_key.h"

#include <array>
#include <cstdint>

#include "config/listen_line.h"
#include "config/nutcracker_number.h"
#include "config/server_line.h"
#include "hashing/distribution.h"
#include "hashing/hash_function.h"

namespace ringproxy::config {
namespace {

using Reason = std::optional<std::string>;

template <auto Field>
Reason ParseNumber(const YamlNode& value, PoolConfig* pool) {
  std::string reason;
  const std::optional<int> number = ParseNutcrackerNumber(value.text, &reason);
  if (!number) {
    return reason;
  }
  pool->*Field = *number;
  return std::nullopt;
}

// nutcracker compares with "true" and "false" byte for byte: no yes/no, on/off, True or 1.
template <bool PoolConfig::*Field>
Reason ParseBool(const YamlNode& value, PoolConfig* pool) {
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

Reason ParseListen(const YamlNode& value, PoolConfig* pool) {
  return ParseListenLine(value.text, &pool->listen);
}

Reason ParseHash(const YamlNode& value, PoolConfig* pool) {
  const std::optional<hashing::HashKind> kind = hashing::ParseHashKind(value.text);
  if (!kind) {
    return "is not one of: " + JoinNames(hashing::HashKindNames());
  }
  pool->hash = *kind;
  return std::nullopt;
}

Reason ParseHashTag(const YamlNode& value, PoolConfig* pool) {
  // Two bytes, as nutcracker counts: the opening and the closing character, e.g. "{}".
  if (value.text.size() != 2) {
    return std::string("is not two characters (an opening and a closing one, e.g. \"{}\")");
  }
  pool->hash_tag = value.text;
  return std::nullopt;
}

Reason ParseDistribution(const YamlNode& value, PoolConfig* pool) {
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

Reason ParseRedisAuth(const YamlNode& value, PoolConfig* pool) {
  pool->redis_auth = value.text;
  return std::nullopt;
}

Reason ParseServerConnections(const YamlNode& value, PoolConfig* pool) {
  if (Reason reason = ParseNumber<&PoolConfig::server_connections>(value, pool)) {
    return reason;
  }
  if (pool->server_connections == 0) {
    return std::string("cannot be 0: at least one connection per server is needed");
  }
  return std::nullopt;
}

Reason AddServer(const YamlNode& value, PoolConfig* pool) {
  ServerConfig server;
  if (Reason reason = ParseServerLine(value.text, &server)) {
    return reason;
  }
  server.where = value.where;
  pool->servers.push_back(std::move(server));
  return std::nullopt;
}

using Shape = PoolKey::Shape;

constexpr std::array kPoolKeys = {
    PoolKey{"listen", Shape::kScalar, true, "", ParseListen,
            "Where clients connect: \"host:port\" (the host must resolve) or \"/unix/path "
            "[octal permissions]\"."},
    PoolKey{"hash", Shape::kScalar, false, "fnv1a_64", ParseHash,
            "Key hash function: nutcracker's twelve, plus xxh3."},
    PoolKey{"hash_tag", Shape::kScalar, false, "", ParseHashTag,
            "Two characters; when a key holds both, only the text between them is hashed. "
            "Default: none."},
    PoolKey{"distribution", Shape::kScalar, false, "ketama", ParseDistribution,
            "Key to server: ketama (consistent), modula or random."},
    PoolKey{"timeout", Shape::kScalar, false, "", ParseNumber<&PoolConfig::timeout_ms>,
            "Milliseconds to wait for a server's reply. Default: wait forever (-1, which cannot "
            "be written: nutcracker refuses negative numbers)."},
    PoolKey{"backlog", Shape::kScalar, false, "512", ParseNumber<&PoolConfig::backlog>,
            "listen(2) backlog of the pool's socket."},
    PoolKey{"client_connections", Shape::kScalar, false, "0",
            ParseNumber<&PoolConfig::client_connections>,
            "Accepted for compatibility; nutcracker does not enforce it."},
    PoolKey{"redis", Shape::kScalar, false, "false", ParseBool<&PoolConfig::redis>,
            "true for a Redis pool. ringproxy speaks Redis only and refuses a pool without it."},
    PoolKey{"tcpkeepalive", Shape::kScalar, false, "false", ParseBool<&PoolConfig::tcpkeepalive>,
            "SO_KEEPALIVE on server connections."},
    PoolKey{"reuseport", Shape::kScalar, false, "false", ParseBool<&PoolConfig::reuseport>,
            "SO_REUSEPORT on the listening socket (twemproxy after 0.5.0; 0.5.0 refuses the key)."},
    PoolKey{"redis_auth", Shape::kScalar, false, "", ParseRedisAuth,
            "Password clients must AUTH with; also sent to each server. Only with redis: true."},
    PoolKey{"redis_db", Shape::kScalar, false, "0", ParseNumber<&PoolConfig::redis_db>,
            "Database selected on each new server connection."},
    PoolKey{"preconnect", Shape::kScalar, false, "false", ParseBool<&PoolConfig::preconnect>,
            "Connect to every server at start instead of on first use."},
    PoolKey{"auto_eject_hosts", Shape::kScalar, false, "false",
            ParseBool<&PoolConfig::auto_eject_hosts>,
            "Take a server out of the ring after server_failure_limit failures in a row."},
    PoolKey{"server_connections", Shape::kScalar, false, "1", ParseServerConnections,
            "Connections to each server (at least 1)."},
    PoolKey{"server_retry_timeout", Shape::kScalar, false, "30000",
            ParseNumber<&PoolConfig::server_retry_timeout_ms>,
            "Milliseconds an ejected server stays out of the ring."},
    PoolKey{"server_failure_limit", Shape::kScalar, false, "2",
            ParseNumber<&PoolConfig::server_failure_limit>,
            "Failures in a row that eject a server (with auto_eject_hosts)."},
    PoolKey{"servers", Shape::kList, true, "", AddServer,
            "One \"host:port:weight [name]\" or \"/unix/path:weight [name]\" per item; the name, "
            "else \"host:port\", is what keys hash to."},
};

}  // namespace

std::span<const PoolKey> PoolKeys() { return kPoolKeys; }

const PoolKey* FindPoolKey(std::string_view name) {
  for (const PoolKey& key : kPoolKeys) {
    if (key.name == name) {
      return &key;
    }
  }
  return nullptr;
}

}  // namespace ringproxy::config
