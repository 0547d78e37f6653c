// A pool's `listen:` value, read as nutcracker reads it: "host:port" split at the last ':', or,
// when it starts with '/', a unix socket "/path [permissions]" split at the last blank.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/pool_config.h"

namespace ringproxy::config {

// Fills `*out` and returns nullopt, or returns why the value is refused, as a phrase that follows
// the quoted value in a message ("has an invalid port ..."). Like nutcracker, resolves a TCP host
// with getaddrinfo() (blocking; "0.0.0.0" and literal addresses need no lookup) and refuses one
// that does not resolve, so that a bad listen address fails at load and not at bind.
std::optional<std::string> ParseListenLine(std::string_view text, ListenAddress* out);

}  // namespace ringproxy::config
