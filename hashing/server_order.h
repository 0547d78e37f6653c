#pragma once

#include <string_view>

namespace ringproxy::hashing {

// nutcracker sorts a pool's servers by name before anything else (shorter names first, then
// bytewise); that order is the server index for modula and random and the order of its stats.
// Equal-length names compare as strncmp does: unsigned bytes, up to the first NUL both share.
// A strict weak ordering, usable with std::sort.
bool NutcrackerNameLess(std::string_view a, std::string_view b);

}  // namespace ringproxy::hashing
