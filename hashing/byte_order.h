// Little-endian loads for the hash functions. nutcracker reads words through `uint32_t*` casts on
// x86_64, i.e. little-endian; composing bytes keeps that result on any host, and compilers turn the
// pattern into a single unaligned load.
#pragma once

#include <cstdint>

namespace ringproxy::hashing {

inline uint32_t LoadLe16(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8);
}

inline uint32_t LoadLe32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace ringproxy::hashing
