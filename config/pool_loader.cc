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

// Why a single value cannot be used as one, or nullopt. `what` names it in the message
// ("directive \"hash\"", "statefulset key \"port\"").
std::optional<ConfigError> RefuseNonScalar(const std::string& what, const YamlNode& value) {
  if (value.kind != YamlNode::Kind::kScalar) {
    return Error(value.where, what + " must be a single value, not a " +
                                  (value.kind == YamlNode::Kind::kMapping ? "mapping" : "list"));
  }
  if (value.text.empty()) {
    // nutcracker refuses every empty scalar, value or key.
    return Error(value.where, what + " has no value");
  }
  return std::nullopt;
}

std::optional<ConfigError> ApplyScalar(const PoolKey& key, const YamlNode& value,
                                       const PoolKeyContext& context, PoolConfig* pool) {
  if (auto error = RefuseNonScalar("directive " + Quoted(key.name), value)) {
    return error;
  }
  if (auto reason = key.parse(value, context, pool)) {
    return Error(value.where, std::string(key.name) + " " + Quoted(value.text) + " " + *reason);
  }
  return std::nullopt;
}

std::optional<ConfigError> ApplyList(const PoolKey& key, const YamlNode& value,
                                     const PoolKeyContext& context, PoolConfig* pool) {
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
    if (auto reason = key.parse(item, context, pool)) {
      return Error(item.where,
                   std::string(key.name) + " entry " + Quoted(item.text) + " " + *reason);
    }
  }
  return std::nullopt;
}

std::string SubKeyNames(const PoolKey& key) {
  std::string names;
  for (const PoolSubKey& entry : key.entries) {
    if (!names.empty()) {
      names += ", ";
    }
    names += entry.name;
  }
  return names;
}

// A mapping-valued directive (ringproxy's statefulset): each entry through the key's own table,
// with the same rules as directives (known, once, a single non-empty value), then the key's
// parser for the rules across entries.
std::optional<ConfigError> ApplyMapping(const PoolKey& key, const YamlNode& key_node,
                                        const YamlNode& value, const PoolKeyContext& context,
                                        PoolConfig* pool) {
  if (value.kind != YamlNode::Kind::kMapping) {
    return Error(
        value.kind == YamlNode::Kind::kScalar && value.text.empty() ? key_node.where : value.where,
        "directive " + Quoted(key.name) +
            " must be a mapping, one \"key: value\" per line (keys: " + SubKeyNames(key) + ")");
  }
  std::map<std::string_view, SourceLocation> seen;
  for (const auto& [entry_key, entry_value] : value.entries) {
    if (entry_key.kind != YamlNode::Kind::kScalar || entry_key.text.empty()) {
      return Error(entry_key.where, std::string(key.name) + " keys must be non-empty text");
    }
    const PoolSubKey* entry = FindPoolSubKey(key, entry_key.text);
    const std::string what = std::string(key.name) + " key " + Quoted(entry_key.text);
    if (entry == nullptr) {
      return Error(entry_key.where, what + " is unknown; known keys: " + SubKeyNames(key));
    }
    if (const auto first = seen.find(entry->name); first != seen.end()) {
      return Error(entry_key.where,
                   what + " is a duplicate (first given at " + Position(first->second) + ")");
    }
    seen.emplace(entry->name, entry_key.where);
    if (auto error = RefuseNonScalar(what, entry_value)) {
      return error;
    }
    if (auto reason = entry->parse(entry_value, context, pool)) {
      return Error(entry_value.where, std::string(key.name) + " " + std::string(entry->name) + " " +
                                          Quoted(entry_value.text) + " " + *reason);
    }
  }
  for (const PoolSubKey& entry : key.entries) {
    if (entry.required && !seen.contains(entry.name)) {
      return Error(key_node.where,
                   std::string(key.name) + " has no " + Quoted(entry.name) + " key (required)");
    }
  }
  if (auto reason = key.parse(value, context, pool)) {
    return Error(key_node.where, std::string(key.name) + " " + *reason);
  }
  return std::nullopt;
}

// What the keys of `group` give a pool, for messages.
std::string_view GroupWhat(PoolKey::Group group) {
  switch (group) {
    case PoolKey::Group::kMembers:
      return "servers";
    case PoolKey::Group::kPassword:
      return "password";
    case PoolKey::Group::kServerPassword:
      return "servers' password";
    case PoolKey::Group::kNone:
      break;
  }
  return "value";
}

// The keys of `group` in table order, for messages: "servers, statefulset or srv".
std::string GroupNames(PoolKey::Group group) {
  std::vector<std::string_view> names;
  for (const PoolKey& key : PoolKeys()) {
    if (key.group == group) {
      names.push_back(key.name);
    }
  }
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      text += i + 1 == names.size() ? " or " : ", ";
    }
    text += names[i];
  }
  return text;
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

std::optional<ConfigError> LoadPool(const YamlNode& name, const YamlNode& body,
                                    std::string_view config_dir, PoolConfig* out) {
  if (name.kind != YamlNode::Kind::kScalar || name.text.empty()) {
    return Error(name.where, "a pool name must be non-empty text");
  }
  const PoolKeyContext context{.config_dir = config_dir};
  PoolConfig pool;
  pool.name = name.text;
  pool.where = name.where;
  if (body.kind != YamlNode::Kind::kMapping) {
    return Error(body.where, "pool " + Quoted(pool.name) +
                                 " must be a mapping of directives (\"listen: ...\", "
                                 "\"servers: ...\"), one per line");
  }

  // False positive: cppcheck 2.10 sees neither the designated initializers that set these
  // members nor the reads through the map's iterators (first->second.key, seen.at(...).value).
  struct Seen {
    // cppcheck-suppress unusedStructMember
    SourceLocation key;
    // cppcheck-suppress unusedStructMember
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
    if (key->group != PoolKey::Group::kNone) {
      for (const auto& [other_name, other] : seen) {
        if (FindPoolKey(other_name)->group == key->group) {
          return Error(key_node.where,
                       "directive " + Quoted(key->name) + " cannot be combined with " +
                           Quoted(other_name) + " (given at " + Position(other.key) +
                           "): a pool takes its " + std::string(GroupWhat(key->group)) +
                           " from one of " + GroupNames(key->group));
        }
      }
    }
    seen.emplace(key->name, Seen{.key = key_node.where, .value = value.where});
    std::optional<ConfigError> error;
    switch (key->shape) {
      case PoolKey::Shape::kScalar:
        error = ApplyScalar(*key, value, context, &pool);
        break;
      case PoolKey::Shape::kList:
        error = ApplyList(*key, value, context, &pool);
        break;
      case PoolKey::Shape::kMapping:
        error = ApplyMapping(*key, key_node, value, context, &pool);
        break;
    }
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
  // nutcracker requires servers; ringproxy also takes the members from statefulset or srv. An
  // srv pool is the one pool that starts without servers: they are found at run time.
  const bool has_members = std::any_of(seen.begin(), seen.end(), [](const auto& entry) {
    return FindPoolKey(entry.first)->group == PoolKey::Group::kMembers;
  });
  if (!has_members) {
    return Error(pool.where, "pool " + Quoted(pool.name) +
                                 " has no \"servers\" directive (nor ringproxy's " +
                                 "\"statefulset\" or \"srv\")");
  }
  if (!pool.server_auth_user.empty() && pool.server_password().empty()) {
    return Error(seen.at("server_auth_user").value,
                 "server_auth_user " + Quoted(pool.server_auth_user) +
                     " needs a password to send with it: give one of " +
                     GroupNames(PoolKey::Group::kServerPassword) + " (or the clients' " +
                     GroupNames(PoolKey::Group::kPassword) + ")");
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
