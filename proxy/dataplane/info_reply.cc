#include "dataplane/info_reply.h"

#include <unistd.h>

#include <cstdio>
#include <map>

#include "base/ascii.h"
#include "base/decimal.h"

namespace ringproxy::proxy {
namespace {

void Field(std::string* out, std::string_view name, std::string_view value) {
  out->append(name);
  out->push_back(':');
  out->append(value);
  out->append("\r\n");
}

void Field(std::string* out, std::string_view name, uint64_t value) {
  Field(out, name, std::to_string(value));
}

void Field(std::string* out, std::string_view name, int64_t value) {
  Field(out, name, std::to_string(value));
}

// Redis's used_memory_human: "1.23M".
std::string Human(uint64_t bytes) {
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%lluB", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof text, "%.2f%c", value, "BKMGTP"[unit]);
  }
  return text;
}

void Section(std::string* out, std::string_view title) {
  if (!out->empty()) out->append("\r\n");
  out->append("# ");
  out->append(title);
  out->append("\r\n");
}

// A count of a keyspace line ("keys=3"), which Redis writes as a non-negative decimal; anything
// else counts nothing, as an absent field would.
uint64_t CountOrZero(std::string_view text) {
  int64_t count = 0;
  return ParseDecimal(text, &count) && count > 0 ? static_cast<uint64_t>(count) : 0;
}

}  // namespace

InfoSections InfoSections::Parse(std::span<const std::string_view> args) {
  InfoSections sections;
  auto all = [&sections] {
    sections.server = sections.clients = sections.memory = sections.persistence = true;
    sections.stats = sections.replication = sections.cpu = sections.proxy = true;
    sections.keyspace = true;
  };
  if (args.size() <= 1) all();
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view name = args[i];
    if (ascii::EqualsIgnoreCase(name, "all") || ascii::EqualsIgnoreCase(name, "everything") ||
        ascii::EqualsIgnoreCase(name, "default")) {
      all();
    } else if (ascii::EqualsIgnoreCase(name, "server")) {
      sections.server = true;
    } else if (ascii::EqualsIgnoreCase(name, "clients")) {
      sections.clients = true;
    } else if (ascii::EqualsIgnoreCase(name, "memory")) {
      sections.memory = true;
    } else if (ascii::EqualsIgnoreCase(name, "persistence")) {
      sections.persistence = true;
    } else if (ascii::EqualsIgnoreCase(name, "stats")) {
      sections.stats = true;
    } else if (ascii::EqualsIgnoreCase(name, "replication")) {
      sections.replication = true;
    } else if (ascii::EqualsIgnoreCase(name, "cpu")) {
      sections.cpu = true;
    } else if (ascii::EqualsIgnoreCase(name, "proxy")) {
      sections.proxy = true;
    } else if (ascii::EqualsIgnoreCase(name, "keyspace")) {
      sections.keyspace = true;
    }
  }
  return sections;
}

std::string InfoText(const InfoSections& sections, const InfoFigures& figures) {
  std::string out;
  if (sections.server) {
    Section(&out, "Server");
    Field(&out, "redis_version", kRedisVersion);
    Field(&out, "redis_mode", "standalone");
    Field(&out, "arch_bits", uint64_t{sizeof(void*) * 8});
    Field(&out, "multiplexing_api", "epoll");
    Field(&out, "process_id", static_cast<int64_t>(getpid()));
    Field(&out, "tcp_port", uint64_t{figures.pool->listen.port});
    Field(&out, "uptime_in_seconds", figures.uptime_s);
    Field(&out, "uptime_in_days", figures.uptime_s / 86400);
    Field(&out, "executable", "ringproxy");
  }
  if (sections.clients) {
    Section(&out, "Clients");
    Field(&out, "connected_clients", figures.connected_clients);
    Field(&out, "maxclients", static_cast<int64_t>(figures.pool->max_clients));
    Field(&out, "blocked_clients", figures.blocked_clients);
    Field(&out, "tracking_clients", uint64_t{0});
  }
  if (sections.memory) {
    // The proxy's own memory: what it holds for its clients (buffers, queued requests).
    Section(&out, "Memory");
    Field(&out, "used_memory", figures.rss_bytes);
    Field(&out, "used_memory_human", Human(figures.rss_bytes));
    Field(&out, "used_memory_rss", figures.rss_bytes);
    Field(&out, "used_memory_rss_human", Human(figures.rss_bytes));
    Field(&out, "used_memory_peak", figures.peak_rss_bytes);
    Field(&out, "used_memory_peak_human", Human(figures.peak_rss_bytes));
    Field(&out, "maxmemory", uint64_t{0});
    Field(&out, "maxmemory_human", "0B");
  }
  if (sections.persistence) {
    Section(&out, "Persistence");
    Field(&out, "loading", uint64_t{0});
    Field(&out, "async_loading", uint64_t{0});
    Field(&out, "rdb_bgsave_in_progress", uint64_t{0});
    Field(&out, "aof_enabled", uint64_t{0});
    Field(&out, "aof_rewrite_in_progress", uint64_t{0});
  }
  if (sections.stats) {
    Section(&out, "Stats");
    Field(&out, "total_connections_received", figures.total_connections);
    Field(&out, "total_commands_processed", figures.total_commands);
    Field(&out, "rejected_connections", figures.rejected_connections);
    Field(&out, "pubsub_channels", figures.pubsub_channels);
    Field(&out, "pubsub_patterns", figures.pubsub_patterns);
    Field(&out, "pubsubshard_channels", figures.pubsubshard_channels);
  }
  if (sections.replication) {
    Section(&out, "Replication");
    Field(&out, "role", "master");
    Field(&out, "connected_slaves", uint64_t{0});
  }
  if (sections.cpu) {
    char value[32];
    Section(&out, "CPU");
    std::snprintf(value, sizeof value, "%.6f", figures.cpu_system_s);
    Field(&out, "used_cpu_sys", value);
    std::snprintf(value, sizeof value, "%.6f", figures.cpu_user_s);
    Field(&out, "used_cpu_user", value);
  }
  if (sections.proxy) {
    Section(&out, "Proxy");
    Field(&out, "ringproxy_version", RINGPROXY_VERSION);
    Field(&out, "ringproxy_pool", figures.pool->name);
    Field(&out, "ringproxy_workers", static_cast<int64_t>(figures.workers));
    Field(&out, "ringproxy_servers", uint64_t{figures.pool->servers.size()});
    Field(&out, "ringproxy_live_servers", uint64_t{figures.live_servers});
    Field(&out, "ringproxy_pinned_connections", figures.pinned_connections);
  }
  return out;
}

std::string MergedKeyspace(std::span<const std::string> server_replies) {
  struct Db {
    uint64_t keys = 0;
    uint64_t expires = 0;
    uint64_t ttl_weighted = 0;  // avg_ttl x keys
  };
  std::map<uint64_t, Db> dbs;
  for (const std::string& reply : server_replies) {
    // A bulk string: "$N\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n...\r\n".
    size_t pos = reply.find("\r\n");
    while (pos != std::string::npos && pos + 2 < reply.size()) {
      const size_t start = pos + 2;
      const size_t end = reply.find("\r\n", start);
      if (end == std::string::npos) break;
      const std::string_view line(reply.data() + start, end - start);
      pos = end;
      if (!line.starts_with("db")) continue;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      int64_t index = 0;
      // Not a database line of Redis's ("dbx:..."): left out rather than counted as db0.
      if (!ParseDecimal(line.substr(2, colon - 2), &index) || index < 0) continue;
      Db& db = dbs[static_cast<uint64_t>(index)];
      uint64_t keys = 0;
      uint64_t ttl = 0;
      std::string_view rest = line.substr(colon + 1);
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        const size_t equals = item.find('=');
        if (equals != std::string_view::npos) {
          const std::string_view name = item.substr(0, equals);
          const uint64_t value = CountOrZero(item.substr(equals + 1));
          if (name == "keys") keys = value;
          if (name == "expires") db.expires += value;
          if (name == "avg_ttl") ttl = value;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      db.keys += keys;
      db.ttl_weighted += ttl * keys;
    }
  }
  std::string out = "# Keyspace\r\n";
  for (const auto& [index, db] : dbs) {
    out += "db" + std::to_string(index) + ":keys=" + std::to_string(db.keys) +
           ",expires=" + std::to_string(db.expires) +
           ",avg_ttl=" + std::to_string(db.keys == 0 ? 0 : db.ttl_weighted / db.keys) + "\r\n";
  }
  return out;
}

}  // namespace ringproxy::proxy
