// Decimal integers as Redis reads them, from a client's argument (SELECT 0, EVAL's numkeys, HELLO
// 2) or from a server's reply (":12", "db0:keys=3"): the proxy accepts exactly what Redis would,
// so a client never gets an answer through the proxy that Redis itself would have refused.
// nutcracker's config numbers follow other rules (config/nutcracker_number.h).
#pragma once

#include <cstdint>
#include <string_view>

namespace ringproxy::proxy {

// True, with *value set, when the whole of `text` is an int64 in Redis's canonical form (its
// string2ll): an optional '-', then digits, the first not a '0' unless the number is "0" itself.
// Refused, with *value untouched: an empty text, a '+', spaces anywhere, leading zeros ("01"),
// "-0" and "-", anything outside int64.
bool ParseDecimal(std::string_view text, int64_t* value);

}  // namespace ringproxy::proxy
