#include "hashing/md5.h"

#include <bit>
#include <cstddef>
#include <cstring>

#include "hashing/byte_order.h"

namespace ringproxy::hashing {
namespace {

// T[i] = floor(|sin(i + 1)| * 2^32), RFC 1321 section 3.4.
constexpr std::array<uint32_t, 64> kSine = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

// Per-round left-rotation amounts, four per round.
constexpr std::array<int, 16> kShift = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

struct State {
  uint32_t a = 0x67452301;
  uint32_t b = 0xefcdab89;
  uint32_t c = 0x98badcfe;
  uint32_t d = 0x10325476;
};

void Compress(State& state, const unsigned char* block) {
  std::array<uint32_t, 16> x;
  for (size_t i = 0; i < 16; ++i) {
    x[i] = LoadLe32(block + 4 * i);
  }
  uint32_t a = state.a;
  uint32_t b = state.b;
  uint32_t c = state.c;
  uint32_t d = state.d;
  // The four rounds differ only in the boolean function and the order the words are taken in;
  // unrolling lets the compiler fold all of it into straight-line code.
#pragma GCC unroll 64
  for (size_t i = 0; i < 64; ++i) {
    uint32_t f;
    size_t word;
    switch (i / 16) {
      case 0:
        f = (b & c) | (~b & d);
        word = i;
        break;
      case 1:
        f = (b & d) | (c & ~d);
        word = (5 * i + 1) % 16;
        break;
      case 2:
        f = b ^ c ^ d;
        word = (3 * i + 5) % 16;
        break;
      default:
        f = c ^ (b | ~d);
        word = (7 * i) % 16;
        break;
    }
    const uint32_t rotated = std::rotl(a + f + x[word] + kSine[i], kShift[(i / 16) * 4 + i % 4]);
    a = d;
    d = c;
    c = b;
    b += rotated;
  }
  state.a += a;
  state.b += b;
  state.c += c;
  state.d += d;
}

void StoreLe32(uint32_t value, uint8_t* out) {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

}  // namespace

Md5Digest Md5(std::string_view data) {
  State state;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  const uint64_t bit_length = static_cast<uint64_t>(size) * 8;
  while (size >= 64) {
    Compress(state, in);
    in += 64;
    size -= 64;
  }
  // Tail: the remaining bytes, a single 1 bit, zeros up to 56 mod 64, then the bit length
  // (little-endian, 64 bits). One or two final blocks.
  std::array<unsigned char, 128> tail{};
  if (size > 0) {
    std::memcpy(tail.data(), in, size);
  }
  tail[size] = 0x80;
  const size_t tail_size = size < 56 ? 64 : 128;
  for (size_t i = 0; i < 8; ++i) {
    tail[tail_size - 8 + i] = static_cast<unsigned char>(bit_length >> (8 * i));
  }
  Compress(state, tail.data());
  if (tail_size == 128) {
    Compress(state, tail.data() + 64);
  }
  Md5Digest digest;
  StoreLe32(state.a, digest.data());
  StoreLe32(state.b, digest.data() + 4);
  StoreLe32(state.c, digest.data() + 8);
  StoreLe32(state.d, digest.data() + 12);
  return digest;
}

}  // namespace ringproxy::hashing
