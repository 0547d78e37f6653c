// MD5 (RFC 1321), one-shot. Used by the "md5" key hash and by the ketama ring, both of which take
// little-endian 32-bit words of the digest. Kept in-house so the hashing library links nothing but
// xxHash; MD5 is used here as a distribution function, never for security.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ringproxy::hashing {

using Md5Digest = std::array<uint8_t, 16>;

Md5Digest Md5(std::string_view data);

}  // namespace ringproxy::hashing
