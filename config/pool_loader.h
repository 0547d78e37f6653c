// One pool, from its YAML name and body to a checked PoolConfig: every directive through the
// PoolKey table, then the rules that span directives (required keys, Redis only, server names).
#pragma once

#include <optional>

#include "config/config_loader.h"
#include "config/pool_config.h"
#include "config/yaml_node.h"

namespace ringproxy::config {

// Fills `*out` (servers in nutcracker's order) and returns nullopt, or returns the first error
// (its `file` left empty for the caller to fill). `name` and `body` are the pool's entry in the
// top-level mapping.
std::optional<ConfigError> LoadPool(const YamlNode& name, const YamlNode& body, PoolConfig* out);

}  // namespace ringproxy::config
