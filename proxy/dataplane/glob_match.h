// GlobMatch: Redis's glob-style matching (stringmatchlen), for PSUBSCRIBE patterns and PUBSUB
// CHANNELS: `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]`, and `\` quoting the next byte.
// The proxy matches as its servers do, so a pattern's receivers count as Redis counts them.
#pragma once

#include <string_view>

namespace ringproxy::proxy {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace ringproxy::proxy
