// The TTL of a DNS response's answer, read from the message itself: c-ares 1.18's
// ares_parse_srv_reply() (and its other non-address parsers) drop the records' TTLs, but the raw
// response that ares_query()/ares_search() hand to their callback still carries them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace ringproxy::proxy {

// Minimum TTL over the answer section's records of the DNS message `message` (`length` bytes;
// not retained). TTLs with the top bit set count as 0 (RFC 2181 section 8). Returns nullopt when
// the answer section is empty or the message is truncated or malformed.
std::optional<uint32_t> MinimumAnswerTtl(const unsigned char* message, size_t length);

}  // namespace ringproxy::proxy
