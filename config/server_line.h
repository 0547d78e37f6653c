// One `servers:` entry, read as nutcracker reads it: "host:port:weight [name]" or
// "/unix/socket/path:weight [name]", split from the end (name after the last blank, then weight
// after the last ':', then port after the ':' before it), so a host may itself hold ':' (IPv6).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/pool_config.h"

namespace ringproxy::config {

// Fills host/port/unix_path/weight/name/has_explicit_name of `*out` and returns nullopt, or
// returns why the entry is refused, as a phrase that follows the quoted entry in a message.
// Host names are not resolved here: nutcracker resolves them lazily, at connect time.
std::optional<std::string> ParseServerLine(std::string_view text, ServerConfig* out);

}  // namespace ringproxy::config
