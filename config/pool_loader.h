// One pool, from its YAML name and body to a checked PoolConfig: every directive through the
// PoolKey table, then the rules that span directives (required keys, one source of servers and
// of the password, Redis only, server names).
#pragma once

#include <optional>
#include <string_view>

#include "config/config_loader.h"
#include "config/pool_config.h"
#include "config/yaml_node.h"

namespace ringproxy::config {

// Fills `*out` (servers in nutcracker's order) and returns nullopt, or returns the first error
// (its `file` left empty for the caller to fill). `name` and `body` are the pool's entry in the
// top-level mapping; `config_dir` is the configuration file's directory, where relative paths in
// values (redis_auth_file) are looked for (empty: the working directory).
std::optional<ConfigError> LoadPool(const YamlNode& name, const YamlNode& body,
                                    std::string_view config_dir, PoolConfig* out);

}  // namespace ringproxy::config
