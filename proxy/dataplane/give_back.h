// GiveBack: what a blocking command took from its keys, as the command that puts it back. When
// a client leaves while blocked, the proxy unblocks its server connection (CLIENT UNBLOCK ...
// TIMEOUT), but the server may have served the command first: its reply then holds elements
// nobody will receive. They go back where they came from, so that no element is lost:
//
//   BLPOP, BLMPOP LEFT    LPUSH key e_n ... e_1   (the list's head as it was)
//   BRPOP, BLMPOP RIGHT   RPUSH key e_n ... e_1   (its tail as it was)
//   BZPOPMIN, BZPOPMAX    ZADD key score member
//   BZMPOP                ZADD key score member ...
//
// BLMOVE and BRPOPLPUSH left the element in their destination list, XREADGROUP's entries stay
// pending in the group, XREAD consumes nothing: they need nothing given back.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "dataplane/command_table.h"

namespace ringproxy::proxy {

// Whether a command's reply may hold something it took (its arguments must then be kept).
bool MayTake(const CommandSpec& spec);

// The command (RESP-encoded) that gives back what `reply` (RESP2 or RESP3, the whole reply)
// says the command `args` took; empty when it took nothing (nil, an error, a timeout) or needs
// nothing given back.
std::string GiveBackCommand(std::span<const std::string> args, std::string_view reply);

}  // namespace ringproxy::proxy
