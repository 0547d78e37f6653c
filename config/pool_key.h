// The directives a pool accepts: one row per key, the single place that names it, says what its
// value looks like, how it is parsed and checked, and what it defaults to. A new directive (DNS
// discovery, auth from a file, workers...) is one new row here plus its field in PoolConfig.
//
// The first rows are nutcracker's, in its order, with its exact behaviour; ringproxy's extensions
// follow them. nutcracker refuses every extension as an unknown directive, so a file that uses
// none is read exactly as nutcracker reads it.
//
// The default column documents the default; the value itself is PoolConfig's member initializer
// (a test parses each row's default text and checks it yields PoolConfig{}'s field).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/pool_config.h"
#include "config/yaml_node.h"

namespace ringproxy::config {

// What a value's parser may need beyond the value.
struct PoolKeyContext {
  // The configuration file's directory: a relative redis_auth_file is read from there (empty: the
  // working directory).
  std::string_view config_dir;
};

// Applies one value to `pool`. Returns nullopt, or why the value is refused as a phrase that
// follows `<key> "<value>"` in the message (for a mapping-valued key, a phrase that follows
// `<key>`). `value.text` of a scalar is never empty: the loader refuses empty values first, as
// nutcracker does.
using PoolKeyParser = std::optional<std::string> (*)(const YamlNode& value,
                                                     const PoolKeyContext& context,
                                                     PoolConfig* pool);

// One key inside a mapping-valued directive (statefulset's service, replicas...). Its value is a
// single non-empty scalar.
struct PoolSubKey {
  std::string_view name;
  bool required;
  std::string_view default_text;  // as written in the file; empty when required or derived
  PoolKeyParser parse;
  std::string_view doc;
};

struct PoolKey {
  // What the value must be in the YAML. nutcracker itself has one shape rule (exactly one list
  // per pool); naming the list key makes "servers: host:1:1" an error that says so.
  enum class Shape { kScalar, kList, kMapping };

  // Keys of one group exclude each other: a pool names its members one way (and must name them),
  // its clients' password at most one way, and its servers' password at most one way.
  enum class Group { kNone, kMembers, kPassword, kServerPassword };

  std::string_view name;
  Shape shape;
  Group group;
  bool required;
  std::string_view default_text;  // as it would be written in the file; empty when required/none
  // kScalar: the value; kList: one list item; kMapping: the whole mapping, once every entry has
  // been applied through `entries` (for the rules across entries).
  PoolKeyParser parse;
  std::span<const PoolSubKey> entries;  // kMapping only: the keys its mapping accepts
  bool nutcracker;                      // false: ringproxy's extension, unknown to nutcracker
  std::string_view doc;
};

// Every directive, nutcracker's first in its order. Static storage; valid for the program's
// lifetime.
std::span<const PoolKey> PoolKeys();

// nullptr when `name` is no directive (names are case-sensitive, as in nutcracker).
const PoolKey* FindPoolKey(std::string_view name);

// nullptr when `key` has no entry `name`.
const PoolSubKey* FindPoolSubKey(const PoolKey& key, std::string_view name);

}  // namespace ringproxy::config
