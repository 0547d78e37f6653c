// The directives a pool accepts: one row per key, the single place that names it, says what its
// value looks like, how it is parsed and checked, and what it defaults to. A new directive (DNS
// discovery, auth from a file, workers...) is one new row here plus its field in PoolConfig.
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

struct PoolKey {
  // What the value must be in the YAML. nutcracker itself has one shape rule (exactly one list
  // per pool); naming the list key makes "servers: host:1:1" an error that says so.
  enum class Shape { kScalar, kList };

  // Applies one scalar (for kList rows: one list item) to `pool`. Returns nullopt, or why the
  // value is refused as a phrase that follows `<key> "<value>"` in the message. `value.text` is
  // never empty: the loader refuses empty values first, as nutcracker does.
  using Parser = std::optional<std::string> (*)(const YamlNode& value, PoolConfig* pool);

  std::string_view name;
  Shape shape;
  bool required;
  std::string_view default_text;  // as it would be written in the file; empty when required/none
  Parser parse;
  std::string_view doc;
};

// Every directive, in nutcracker's order. Static storage; valid for the program's lifetime.
std::span<const PoolKey> PoolKeys();

// nullptr when `name` is no directive (names are case-sensitive, as in nutcracker).
const PoolKey* FindPoolKey(std::string_view name);

}  // namespace ringproxy::config
