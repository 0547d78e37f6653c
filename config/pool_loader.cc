#include "config/pool_loader.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "config/pool_key.h"
#include "hashing/server_order.h"

namespace ringproxy::config {
namespace {

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string Position(const SourceLocation& where) {
  return std::to_string(where.line) + ":" + std::to_string(where.column);
}

ConfigError Error(const SourceLocation& where, std::string message) {
  return ConfigError{.file = {}, .where = where, .message = std::move(message)};
}

std::string KnownDirectives() {
  std::string names;
  for (const PoolKey& key : PoolKeys()) {
    if (!names.empty()) {
      names += ", ";
    }
    names += key.name;
  }
  return names;
}

std::optional<ConfigError> ApplyScalar(const PoolKey& key, const YamlNode& value,
                                       PoolConfig* pool) {
  if (value.kind != YamlNode::Kind::kScalar) {
    return Error(value.where, "directive " + Quoted(key.name) + " must be a single value, not a " +
                                  (value.kind == YamlNode::Kind::kMapping ? "mapping" : "list"));
  }
  if (value.text.empty()) {
    // nutcracker refuses every empty scalar, value or key.
    return Error(value.where, "directive " + Quoted(key.name) + " has no value");
  }
  if (auto reason = key.parse(value, pool)) {
    return Error(value.where, std::string(key.name) + " " + Quoted(value.text) + " " + *reason);
  }
  return std::nullopt;
}

std::optional<ConfigError> ApplyList(const PoolKey& key, const YamlNode& value, PoolConfig* pool) {
  if (value.kind != YamlNode::Kind::kSequence) {
    return Error(value.where, "directive " + Quoted(key.name) +
                                  " must be a list, one \"- host:port:weight [name]\" per line");
  }
  for (const YamlNode& item : value.items) {
    if (item.kind != YamlNode::Kind::kScalar) {
      return Error(item.where, std::string(key.name) +
                                   " entries must be single values such as "
                                   "\"127.0.0.1:6379:1 redis-0\"");
    }
    if (item.text.empty()) {
      return Error(item.where, std::string(key.name) + " has an empty entry");
    }
    if (auto reason = key.parse(item, pool)) {
      return Error(item.where,
                   std::string(key.name) + " entry " + Quoted(item.text) + " " + *reason);
    }
  }
  return std::nullopt;
}

bool SameServerName(const ServerConfig& a, const ServerConfig& b) {
  return !hashing::NutcrackerNameLess(a.name, b.name) &&
         !hashing::NutcrackerNameLess(b.name, a.name);
}

// nutcracker sorts servers by name and refuses two that compare equal. Sorting a list of indexes
// stably keeps file order among equals, so the error points at the later of the two.
std::optional<ConfigError> SortServers(PoolConfig* pool) {
  std::vector<size_t> order(pool->servers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [pool](size_t a, size_t b) {
    return hashing::NutcrackerNameLess(pool->servers[a].name, pool->servers[b].name);
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const ServerConfig& first = pool->servers[order[i - 1]];
    const ServerConfig& second = pool->servers[order[i]];
    if (SameServerName(first, second)) {
      return Error(second.where, "pool " + Quoted(pool->name) + " has two servers named " +
                                     Quoted(second.name) + " (the first at " +
                                     Position(first.where) + "); give each server a distinct name");
    }
  }
  std::vector<ServerConfig> sorted;
  sorted.reserve(order.size());
  for (const size_t index : order) {
    sorted.push_back(std::move(pool->servers[index]));
  }
  pool->servers = std::move(sorted);
  return std::nullopt;
}

}  // namespace

std::optional<ConfigError> LoadPool(const YamlNode& name, const YamlNode& body, PoolConfig* out) {
  if (name.kind != YamlNode::Kind::kScalar || name.text.empty()) {
    return Error(name.where, "a pool name must be non-empty text");
  }
  PoolConfig pool;
  pool.name = name.text;
  pool.where = name.where;
  if (body.kind != YamlNode::Kind::kMapping) {
    return Error(body.where, "pool " + Quoted(pool.name) +
                                 " must be a mapping of directives (\"listen: ...\", "
                                 "\"servers: ...\"), one per line");
  }

  struct Seen {
    SourceLocation key;
    SourceLocation value;
  };
  std::map<std::string_view, Seen> seen;
  for (const auto& [key_node, value] : body.entries) {
    if (key_node.kind != YamlNode::Kind::kScalar || key_node.text.empty()) {
      return Error(key_node.where, "a directive name must be non-empty text");
    }
    const PoolKey* key = FindPoolKey(key_node.text);
    if (key == nullptr) {
      return Error(key_node.where, "directive " + Quoted(key_node.text) +
                                       " is unknown; known directives: " + KnownDirectives());
    }
    if (const auto first = seen.find(key->name); first != seen.end()) {
      return Error(key_node.where, "directive " + Quoted(key->name) +
                                       " is a duplicate (first given at " +
                                       Position(first->second.key) + ")");
    }
    seen.emplace(key->name, Seen{.key = key_node.where, .value = value.where});
    auto error = key->shape == PoolKey::Shape::kList ? ApplyList(*key, value, &pool)
                                                     : ApplyScalar(*key, value, &pool);
    if (error) {
      return error;
    }
  }

  for (const PoolKey& key : PoolKeys()) {
    if (key.required && !seen.contains(key.name)) {
      return Error(pool.where,
                   "pool " + Quoted(pool.name) + " has no " + Quoted(key.name) + " directive");
    }
  }
  // nutcracker reads a pool without "redis: true" as memcache. ringproxy speaks Redis only, so
  // such a pool is refused rather than served in the wrong protocol. (This also covers
  // nutcracker's rule that redis_auth needs a redis pool.)
  if (!pool.redis) {
    const auto redis = seen.find("redis");
    return Error(redis != seen.end() ? redis->second.value : pool.where,
                 "pool " + Quoted(pool.name) +
                     " is a memcache pool (nutcracker's default when \"redis: true\" is absent); "
                     "ringproxy speaks Redis only: set \"redis: true\"");
  }
  if (auto error = SortServers(&pool)) {
    return error;
  }
  *out = std::move(pool);
  return std::nullopt;
}

}  // namespace ringproxy::config
