// nutcracker's key hashes, rewritten from the algorithms (Bob Jenkins' one-at-a-time and lookup3,
// FNV, CRC-16/XMODEM and CRC-32, Paul Hsieh's SuperFastHash, MurmurHash2, MD5) with nutcracker's
// deviations from those algorithms reproduced on purpose, because placement must match bit for bit:
//
// - `SignExtended`: nutcracker converts `char` bytes straight to `uint32_t`/`uint64_t`; `char` is
//   signed on x86_64, so bytes >= 0x80 enter the arithmetic as 0xffffff80.. (one_at_a_time, all
//   four fnv, the 3-byte tail of hsieh). CRC-16 and CRC-32 also read signed chars but mask to the
//   low byte before use, so there it makes no difference.
// - crc16 keeps its state in 32 bits and never masks it to 16: the result carries the bits shifted
//   past bit 15 (crc16("apple") = 3662830516, not a 16-bit number).
// - crc32 is bits 16..30 of the standard CRC-32 (the libmemcached convention); crc32a is the
//   standard CRC-32.
// - fnv1a_64 runs entirely in 32 bits with the low halves of the 64-bit basis and prime, so it is
//   not the low half of FNV-1a 64. fnv1_64 is real 64-bit FNV-1 truncated at the end.
// - murmur is MurmurHash2 seeded with 0xdeadbeef * length.
// - jenkins is lookup3's hashlittle with initval 13; an empty key returns the seed unmixed.
// - md5 is the first little-endian word of the digest.
#include "hashing/hash_function.h"

#include <array>
#include <bit>

#include <xxhash.h>

#include "hashing/byte_order.h"
#include "hashing/md5.h"

namespace ringproxy::hashing {
namespace {

const unsigned char* Bytes(const char* data) {
  return reinterpret_cast<const unsigned char*>(data);
}

// A key byte as nutcracker's `(uint32_t)key[i]` sees it on x86_64, where `char` is signed.
uint32_t SignExtended(char byte) {
  return static_cast<uint32_t>(static_cast<int32_t>(static_cast<signed char>(byte)));
}

// h = step(h, SignExtended(byte)) for every byte in order. Eight bytes per loop round, then a
// jump into the last ones: byte-at-a-time hashes of short keys spend as much on the loop's own
// compare and branch as on the hash, and these run on every request.
template <typename Step>
[[gnu::always_inline]] inline uint32_t ForEachByte(uint32_t h, const char* data, size_t size,
                                                   Step step) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    h = step(h, SignExtended(data[i]));
    h = step(h, SignExtended(data[i + 1]));
    h = step(h, SignExtended(data[i + 2]));
    h = step(h, SignExtended(data[i + 3]));
    h = step(h, SignExtended(data[i + 4]));
    h = step(h, SignExtended(data[i + 5]));
    h = step(h, SignExtended(data[i + 6]));
    h = step(h, SignExtended(data[i + 7]));
  }
  const char* end = data + size;  // the last bytes, read from the end: no pointer to advance
  switch (size - i) {
    case 7:
      h = step(h, SignExtended(end[-7]));
      [[fallthrough]];
    case 6:
      h = step(h, SignExtended(end[-6]));
      [[fallthrough]];
    case 5:
      h = step(h, SignExtended(end[-5]));
      [[fallthrough]];
    case 4:
      h = step(h, SignExtended(end[-4]));
      [[fallthrough]];
    case 3:
      h = step(h, SignExtended(end[-3]));
      [[fallthrough]];
    case 2:
      h = step(h, SignExtended(end[-2]));
      [[fallthrough]];
    case 1:
      h = step(h, SignExtended(end[-1]));
      break;
    default:
      break;
  }
  return h;
}

uint32_t OneAtATime(const char* data, size_t size) {
  uint32_t h = ForEachByte(0, data, size, [](uint32_t acc, uint32_t byte) {
    acc += byte;
    acc += acc << 10;
    return acc ^ (acc >> 6);
  });
  h += h << 3;
  h ^= h >> 11;
  h += h << 15;
  return h;
}

uint32_t Md5Hash(const char* data, size_t size) {
  const Md5Digest digest = Md5(std::string_view(data, size));
  return LoadLe32(digest.data());
}

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  // CRC-16/XMODEM: polynomial 0x1021, most significant bit first.
  std::array<uint16_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[i] = static_cast<uint16_t>(crc);
  }
  return table;
}

constexpr std::array<uint32_t, 256> MakeCrc32Table() {
  // CRC-32 (IEEE 802.3), reflected: polynomial 0xedb88320, least significant bit first.
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xedb88320 : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();
constexpr std::array<uint32_t, 256> kCrc32Table = MakeCrc32Table();

uint32_t Crc16(const char* data, size_t size) {
  const unsigned char* p = Bytes(data);
  uint32_t crc = 0;  // deliberately 32 bits wide, see the file comment
  for (size_t i = 0; i < size; ++i) {
    crc = (crc << 8) ^ kCrc16Table[((crc >> 8) ^ p[i]) & 0xff];
  }
  return crc;
}

uint32_t Crc32Standard(const char* data, size_t size) {
  const unsigned char* p = Bytes(data);
  uint32_t crc = UINT32_MAX;
  for (size_t i = 0; i < size; ++i) {
    crc = (crc >> 8) ^ kCrc32Table[(crc ^ p[i]) & 0xff];
  }
  return ~crc;
}

uint32_t Crc32(const char* data, size_t size) { return (Crc32Standard(data, size) >> 16) & 0x7fff; }

uint32_t Crc32a(const char* data, size_t size) { return Crc32Standard(data, size); }

constexpr uint64_t kFnv64Basis = 0xcbf29ce484222325;
constexpr uint64_t kFnv64Prime = 0x100000001b3;
constexpr uint32_t kFnv32Basis = 2166136261U;
constexpr uint32_t kFnv32Prime = 16777619U;

uint32_t Fnv1_64(const char* data, size_t size) {
  uint64_t h = kFnv64Basis;
  for (size_t i = 0; i < size; ++i) {
    h *= kFnv64Prime;
    // `(uint64_t)key[i]`: sign-extended to all 64 bits.
    h ^= static_cast<uint64_t>(static_cast<int64_t>(static_cast<signed char>(data[i])));
  }
  return static_cast<uint32_t>(h);
}

uint32_t Fnv1a_64(const char* data, size_t size) {
  return ForEachByte(static_cast<uint32_t>(kFnv64Basis), data, size, [](uint32_t h, uint32_t byte) {
    return (h ^ byte) * static_cast<uint32_t>(kFnv64Prime);
  });
}

uint32_t Fnv1_32(const char* data, size_t size) {
  return ForEachByte(kFnv32Basis, data, size,
                     [](uint32_t h, uint32_t byte) { return (h * kFnv32Prime) ^ byte; });
}

uint32_t Fnv1a_32(const char* data, size_t size) {
  return ForEachByte(kFnv32Basis, data, size,
                     [](uint32_t h, uint32_t byte) { return (h ^ byte) * kFnv32Prime; });
}

uint32_t Hsieh(const char* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const unsigned char* p = Bytes(data);
  uint32_t h = 0;
  for (size_t blocks = size / 4; blocks > 0; --blocks) {
    h += LoadLe16(p);
    const uint32_t tmp = (LoadLe16(p + 2) << 11) ^ h;
    h = (h << 16) ^ tmp;
    p += 4;
    h += h >> 11;
  }
  switch (size % 4) {
    case 3:
      h += LoadLe16(p);
      h ^= h << 16;
      h ^= SignExtended(static_cast<char>(p[2])) << 18;  // the one signed read
      h += h >> 11;
      break;
    case 2:
      h += LoadLe16(p);
      h ^= h << 11;
      h += h >> 17;
      break;
    case 1:
      h += p[0];
      h ^= h << 10;
      h += h >> 1;
      break;
    default:
      break;
  }
  h ^= h << 3;
  h += h >> 5;
  h ^= h << 4;
  h += h >> 17;
  h ^= h << 25;
  h += h >> 6;
  return h;
}

uint32_t Murmur(const char* data, size_t size) {
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto length = static_cast<uint32_t>(size);
  uint32_t h = (0xdeadbeef * length) ^ length;
  const unsigned char* p = Bytes(data);
  size_t remaining = size;
  for (; remaining >= 4; remaining -= 4, p += 4) {
    uint32_t k = LoadLe32(p);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  switch (remaining) {
    case 3:
      h ^= static_cast<uint32_t>(p[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(p[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= p[0];
      h *= kM;
      break;
    default:
      break;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

void JenkinsMix(uint32_t& a, uint32_t& b, uint32_t& c) {
  a -= c;
  a ^= std::rotl(c, 4);
  c += b;
  b -= a;
  b ^= std::rotl(a, 6);
  a += c;
  c -= b;
  c ^= std::rotl(b, 8);
  b += a;
  a -= c;
  a ^= std::rotl(c, 16);
  c += b;
  b -= a;
  b ^= std::rotl(a, 19);
  a += c;
  c -= b;
  c ^= std::rotl(b, 4);
  b += a;
}

void JenkinsFinal(uint32_t& a, uint32_t& b, uint32_t& c) {
  c ^= b;
  c -= std::rotl(b, 14);
  a ^= c;
  a -= std::rotl(c, 11);
  b ^= a;
  b -= std::rotl(a, 25);
  c ^= b;
  c -= std::rotl(b, 16);
  a ^= c;
  a -= std::rotl(c, 4);
  b ^= a;
  b -= std::rotl(a, 14);
  c ^= b;
  c -= std::rotl(b, 24);
}

// Little-endian word made of the first `count` (0..4) bytes at p.
uint32_t LoadLePartial(const unsigned char* p, size_t count) {
  uint32_t word = 0;
  for (size_t i = 0; i < count; ++i) {
    word |= static_cast<uint32_t>(p[i]) << (8 * i);
  }
  return word;
}

uint32_t Jenkins(const char* data, size_t size) {
  // nutcracker picks a word-, half-word- or byte-reading loop by the key's alignment; on a
  // little-endian machine all three compute this same function of the bytes.
  constexpr uint32_t kInitval = 13;
  uint32_t a = 0xdeadbeef + static_cast<uint32_t>(size) + kInitval;
  uint32_t b = a;
  uint32_t c = a;
  const unsigned char* p = Bytes(data);
  size_t remaining = size;
  while (remaining > 12) {
    a += LoadLe32(p);
    b += LoadLe32(p + 4);
    c += LoadLe32(p + 8);
    JenkinsMix(a, b, c);
    remaining -= 12;
    p += 12;
  }
  if (remaining == 0) {
    return c;
  }
  a += LoadLePartial(p, remaining < 4 ? remaining : 4);
  if (remaining > 4) {
    b += LoadLePartial(p + 4, remaining < 8 ? remaining - 4 : 4);
  }
  if (remaining > 8) {
    c += LoadLePartial(p + 8, remaining - 8);
  }
  JenkinsFinal(a, b, c);
  return c;
}

// Not a nutcracker hash: XXH3_64bits truncated to its low 32 bits, since every key hash here is a
// uint32 (the continuum's point space).
uint32_t Xxh3(const char* data, size_t size) {
  return static_cast<uint32_t>(XXH3_64bits(data, size));
}

struct HashEntry {
  std::string_view name;
  HashFn fn;
};

// Indexed by HashKind.
constexpr std::array<HashEntry, 13> kHashes = {{
    {"one_at_a_time", OneAtATime},
    {"md5", Md5Hash},
    {"crc16", Crc16},
    {"crc32", Crc32},
    {"crc32a", Crc32a},
    {"fnv1_64", Fnv1_64},
    {"fnv1a_64", Fnv1a_64},
    {"fnv1_32", Fnv1_32},
    {"fnv1a_32", Fnv1a_32},
    {"hsieh", Hsieh},
    {"murmur", Murmur},
    {"jenkins", Jenkins},
    {"xxh3", Xxh3},
}};
static_assert(kHashes.size() == static_cast<size_t>(HashKind::kXxh3) + 1);

constexpr std::array<std::string_view, kHashes.size()> MakeNames() {
  std::array<std::string_view, kHashes.size()> names{};
  for (size_t i = 0; i < kHashes.size(); ++i) {
    names[i] = kHashes[i].name;
  }
  return names;
}

constexpr std::array<std::string_view, kHashes.size()> kNames = MakeNames();

}  // namespace

std::optional<HashKind> ParseHashKind(std::string_view name) {
  for (size_t i = 0; i < kHashes.size(); ++i) {
    if (kHashes[i].name == name) {
      return static_cast<HashKind>(i);
    }
  }
  return std::nullopt;
}

std::string_view HashKindName(HashKind kind) { return kHashes[static_cast<size_t>(kind)].name; }

std::span<const std::string_view> HashKindNames() { return kNames; }

HashFn HashFunctionFor(HashKind kind) { return kHashes[static_cast<size_t>(kind)].fn; }

}  // namespace ringproxy::hashing
