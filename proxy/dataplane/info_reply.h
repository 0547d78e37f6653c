// INFO through the proxy: the sections a client asks for, in Redis's text form, so that client
// ready checks (`loading:0`), `redis-cli --stat` and monitoring agents read the proxy as they
// read a Redis. Everything but the keyspace describes the proxy itself (its clients, its
// memory, its requests), plus a "# Proxy" section of its own; the keyspace is the pool's, summed
// from INFO keyspace of every live server.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/pool_config.h"

namespace ringproxy::proxy {

// The Redis version the proxy presents itself as, in INFO and HELLO: clients switch features on
// by version, and every backend is Redis 7.
inline constexpr std::string_view kRedisVersion = "7.0.0";

// Which sections a request asked for (Redis 7: any number of names; none means "default").
struct InfoSections {
  bool server = false;
  bool clients = false;
  bool memory = false;
  bool persistence = false;
  bool stats = false;
  bool replication = false;
  bool cpu = false;
  bool proxy = false;
  bool keyspace = false;

  // From INFO's arguments (args[0] is INFO itself); unknown names select nothing, as in Redis.
  static InfoSections Parse(std::span<const std::string_view> args);
};

// The proxy's own figures for the sections, gathered by the caller.
struct InfoFigures {
  const config::PoolConfig* pool = nullptr;
  int workers = 0;
  uint64_t uptime_s = 0;
  int64_t connected_clients = 0;
  int64_t blocked_clients = 0;
  uint64_t total_connections = 0;
  uint64_t total_commands = 0;
  uint64_t rejected_connections = 0;
  uint64_t rss_bytes = 0;
  uint64_t peak_rss_bytes = 0;
  double cpu_user_s = 0;
  double cpu_system_s = 0;
  int64_t pinned_connections = 0;
  // Distinct channels, patterns and shard channels with a subscriber, over every worker.
  int64_t pubsub_channels = 0;
  int64_t pubsub_patterns = 0;
  int64_t pubsubshard_channels = 0;
  size_t live_servers = 0;
};

// Every section asked for but the keyspace, in Redis's order (the proxy's before the keyspace).
std::string InfoText(const InfoSections& sections, const InfoFigures& figures);

// "# Keyspace" with each database's keys and expires summed over `server_replies` (each a
// server's INFO keyspace reply, RESP bulk string included) and avg_ttl averaged by keys.
std::string MergedKeyspace(std::span<const std::string> server_replies);

}  // namespace ringproxy::proxy
