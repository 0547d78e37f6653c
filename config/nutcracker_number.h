// Numbers as nutcracker reads them from its config (nc_atoi): one or more ASCII digits and nothing
// else, so no sign, no blanks, no "1e3", no "0x10". The same rule serves directive values, ports
// and server weights.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringproxy::config {

// The value, or nullopt with `*reason` set to a phrase that follows the quoted text in a message
// ("is not a number: ..."). Values above INT32_MAX are refused: nutcracker's int arithmetic wraps
// there, refusing some (2147483648 wraps negative) and silently accepting others as a different
// number (4294967297 becomes 1); refusing them all is the only reading that is never wrong.
std::optional<int> ParseNutcrackerNumber(std::string_view text, std::string* reason);

}  // namespace ringproxy::config
