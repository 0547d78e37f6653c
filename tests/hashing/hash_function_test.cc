#include "hashing/hash_function.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

namespace ringproxy::hashing {
namespace {

using namespace std::string_view_literals;

TEST(HashKindNames, ListsNutcrackerSpellingsInOrderThenXxh3) {
  const std::vector<std::string_view> expected = {
      "one_at_a_time", "md5",      "crc16", "crc32",  "crc32a",  "fnv1_64", "fnv1a_64",
      "fnv1_32",       "fnv1a_32", "hsieh", "murmur", "jenkins", "xxh3"};
  const auto names = HashKindNames();
  EXPECT_EQ(std::vector<std::string_view>(names.begin(), names.end()), expected);
}

TEST(HashKindNames, ParseAndNameRoundTrip) {
  for (const std::string_view name : HashKindNames()) {
    const auto kind = ParseHashKind(name);
    ASSERT_TRUE(kind.has_value()) << name;
    EXPECT_EQ(HashKindName(*kind), name);
  }
  EXPECT_EQ(ParseHashKind("fnv1a_64"), HashKind::kFnv1a_64);
  EXPECT_EQ(ParseHashKind("xxh3"), HashKind::kXxh3);
}

TEST(HashKindNames, UnknownOrMiscasedNamesAreRejected) {
  EXPECT_FALSE(ParseHashKind("").has_value());
  EXPECT_FALSE(ParseHashKind("FNV1A_64").has_value());
  EXPECT_FALSE(ParseHashKind("fnv1a_64 ").has_value());
  EXPECT_FALSE(ParseHashKind("sha1").has_value());
  EXPECT_FALSE(ParseHashKind("xxh64").has_value());
}

// twemproxy's own known answers for "apple" (src/test_all.c, from libmemcached's hash_results.h).
TEST(HashFunction, MatchesNutcrackerKnownAnswersForApple) {
  EXPECT_EQ(Hash(HashKind::kOneAtATime, "apple"), 2297466611U);
  EXPECT_EQ(Hash(HashKind::kMd5, "apple"), 3195025439U);
  EXPECT_EQ(Hash(HashKind::kCrc16, "apple"), 3662830516U);
  EXPECT_EQ(Hash(HashKind::kCrc32, "apple"), 10542U);
  EXPECT_EQ(Hash(HashKind::kCrc32a, "apple"), 2838417488U);
  EXPECT_EQ(Hash(HashKind::kFnv1_32, "apple"), 67176023U);
  EXPECT_EQ(Hash(HashKind::kFnv1a_32, "apple"), 280767167U);
  EXPECT_EQ(Hash(HashKind::kFnv1_64, "apple"), 473199127U);
  EXPECT_EQ(Hash(HashKind::kFnv1a_64, "apple"), 1488911807U);
  EXPECT_EQ(Hash(HashKind::kHsieh, "apple"), 3738850110U);
  EXPECT_EQ(Hash(HashKind::kJenkins, "apple"), 1442444624U);
  EXPECT_EQ(Hash(HashKind::kMurmur, "apple"), 4142305122U);
}

TEST(HashFunction, Fnv1a64OfFooMatchesCompatDoc) {
  EXPECT_EQ(Hash(HashKind::kFnv1a_64, "foo"), 0xfed9d577U);
}

// fnv1a_64 is 32-bit arithmetic on the low halves of the 64-bit basis and prime, and a byte >= 0x80
// enters it sign-extended: one step from the basis with byte 0x80 xors in 0xffffff80.
TEST(HashFunction, Fnv1a64SignExtendsHighBytes) {
  const uint32_t expected = (0x84222325U ^ 0xffffff80U) * 0x1b3U;
  EXPECT_EQ(Hash(HashKind::kFnv1a_64, "\x80"), expected);
  EXPECT_NE(Hash(HashKind::kFnv1a_64, "\x80"), (0x84222325U ^ 0x80U) * 0x1b3U);
}

// fnv1_64 runs in 64 bits; the sign extension reaches all 64 bits, but only the low 32 survive.
TEST(HashFunction, Fnv1_64SignExtendsHighBytesTo64Bits) {
  const uint64_t state = (0xcbf29ce484222325ULL * 0x100000001b3ULL) ^ 0xffffffffffffffffULL;
  EXPECT_EQ(Hash(HashKind::kFnv1_64, "\xff"), static_cast<uint32_t>(state));
}

// crc32 is bits 16..30 of the standard CRC-32; crc32a is the standard CRC-32 (check value of
// "123456789" is 0xcbf43926). crc16 is CRC-16/XMODEM (check 0x31c3) in its low 16 bits, with the
// bits shifted past bit 15 left in place.
TEST(HashFunction, CrcsRelateToTheStandardChecks) {
  EXPECT_EQ(Hash(HashKind::kCrc32a, "123456789"), 0xcbf43926U);
  EXPECT_EQ(Hash(HashKind::kCrc32, "123456789"), (0xcbf43926U >> 16) & 0x7fffU);
  EXPECT_EQ(Hash(HashKind::kCrc16, "123456789") & 0xffffU, 0x31c3U);
  EXPECT_GT(Hash(HashKind::kCrc16, "123456789"), 0xffffU);
}

// xxh3 is XXH3_64bits truncated to its low 32 bits; XXH3_64bits("") = 0x2d06800538d394c2 is the
// value xxHash documents for empty input.
TEST(HashFunction, Xxh3IsLow32BitsOfXxh3_64) {
  EXPECT_EQ(Hash(HashKind::kXxh3, ""), 0x38d394c2U);
  for (const std::string_view key : {"apple"sv, "user:1000"sv, "\x80\xff\x00\x01"sv}) {
    EXPECT_EQ(Hash(HashKind::kXxh3, key),
              static_cast<uint32_t>(XXH3_64bits(key.data(), key.size())))
        << key;
  }
}

constexpr std::string_view kEmpty = ""sv;
constexpr std::string_view kByte80 = "\x80"sv;
constexpr std::string_view kByteFf = "\xff"sv;
constexpr std::string_view kUtf8E = "\xc3\xa9"sv;
// Three bytes: hsieh's tail reads the third byte through a signed char.
constexpr std::string_view kHighTail3 = "\x01\x02\x80"sv;
constexpr std::string_view kCafe = "caf\xc3\xa9"sv;
// Thirteen bytes: jenkins mixes one full block, then a one-byte tail.
constexpr std::string_view kMixed13 = "k\xe9y:\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0\xff"sv;
constexpr std::string_view kAllBytes =
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
    "\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f"
    "\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f"
    "\x40\x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f"
    "\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f"
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"
    "\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f"
    "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"
    "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
    "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
    "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"
    "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf"
    "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
    "\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef"
    "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"sv;

struct Vector {
  HashKind kind;
  std::string_view key;
  uint32_t expected;
};

// Expected values worked out independently of this library, by a separate (Python) rendering of
// each nutcracker function with its x86_64 signed-char reads: one_at_a_time, fnv* and hsieh's
// 3-byte tail sign-extend; md5, crc*, murmur and jenkins read bytes unsigned.
constexpr Vector kVectors[] = {
    {HashKind::kOneAtATime, kEmpty, 0U},
    {HashKind::kMd5, kEmpty, 3649838548U},
    {HashKind::kCrc16, kEmpty, 0U},
    {HashKind::kCrc32, kEmpty, 0U},
    {HashKind::kCrc32a, kEmpty, 0U},
    {HashKind::kFnv1_64, kEmpty, 2216829733U},
    {HashKind::kFnv1a_64, kEmpty, 2216829733U},
    {HashKind::kFnv1_32, kEmpty, 2166136261U},
    {HashKind::kFnv1a_32, kEmpty, 2166136261U},
    {HashKind::kHsieh, kEmpty, 0U},
    {HashKind::kMurmur, kEmpty, 0U},
    {HashKind::kJenkins, kEmpty, 3735928572U},
    {HashKind::kOneAtATime, kByte80, 3273477671U},
    {HashKind::kMd5, kByte80, 2128427405U},
    {HashKind::kCrc16, kByte80, 37256U},
    {HashKind::kCrc32, kByte80, 16314U},
    {HashKind::kCrc32a, kByte80, 1069182125U},
    {HashKind::kFnv1_64, kByte80, 2046707807U},
    {HashKind::kFnv1a_64, kByte80, 2046684255U},
    {HashKind::kFnv1_32, kByte80, 4210270879U},
    {HashKind::kFnv1a_32, kByte80, 83079839U},
    {HashKind::kHsieh, kByte80, 3606367026U},
    {HashKind::kMurmur, kByte80, 2421514821U},
    {HashKind::kJenkins, kByte80, 2976898632U},
    {HashKind::kOneAtATime, kByteFf, 2925896852U},
    {HashKind::kMd5, kByteFf, 3561969920U},
    {HashKind::kCrc16, kByteFf, 7920U},
    {HashKind::kCrc32, kByteFf, 32512U},
    {HashKind::kCrc32a, kByteFf, 4278190080U},
    {HashKind::kFnv1_64, kByteFf, 2046707744U},
    {HashKind::kFnv1a_64, kByteFf, 2046707310U},
    {HashKind::kFnv1_32, kByteFf, 4210270944U},
    {HashKind::kFnv1a_32, kByteFf, 4193493326U},
    {HashKind::kHsieh, kByteFf, 44489640U},
    {HashKind::kMurmur, kByteFf, 3679652508U},
    {HashKind::kJenkins, kByteFf, 3784723880U},
    {HashKind::kOneAtATime, kUtf8E, 26298542U},
    {HashKind::kMd5, kUtf8E, 2546851174U},
    {HashKind::kCrc16, kUtf8E, 15296452U},
    {HashKind::kCrc32, kUtf8E, 3588U},
    {HashKind::kCrc32a, kUtf8E, 235179326U},
    {HashKind::kFnv1_64, kUtf8E, 3035330621U},
    {HashKind::kFnv1a_64, kUtf8E, 3033280513U},
    {HashKind::kFnv1_32, kUtf8E, 376872957U},
    {HashKind::kFnv1a_32, kUtf8E, 1023043777U},
    {HashKind::kHsieh, kUtf8E, 3203012475U},
    {HashKind::kMurmur, kUtf8E, 2111574343U},
    {HashKind::kJenkins, kUtf8E, 934048990U},
    {HashKind::kOneAtATime, kHighTail3, 1030054643U},
    {HashKind::kMd5, kHighTail3, 1261234422U},
    {HashKind::kCrc16, kHighTail3, 269730010U},
    {HashKind::kCrc32, kHighTail3, 8461U},
    {HashKind::kCrc32a, kHighTail3, 554521223U},
    {HashKind::kFnv1_64, kHighTail3, 2482222760U},
    {HashKind::kFnv1a_64, kHighTail3, 2563947998U},
    {HashKind::kFnv1_32, kHighTail3, 3713107368U},
    {HashKind::kFnv1a_32, kHighTail3, 1009786046U},
    {HashKind::kHsieh, kHighTail3, 1718265978U},
    {HashKind::kMurmur, kHighTail3, 4103505842U},
    {HashKind::kJenkins, kHighTail3, 504151623U},
    {HashKind::kOneAtATime, kCafe, 3650908318U},
    {HashKind::kMd5, kCafe, 3833532679U},
    {HashKind::kCrc16, kCafe, 4129724007U},
    {HashKind::kCrc32, kCafe, 6317U},
    {HashKind::kCrc32a, kCafe, 2561491637U},
    {HashKind::kFnv1_64, kCafe, 2315714289U},
    {HashKind::kFnv1a_64, kCafe, 3472276361U},
    {HashKind::kFnv1_32, kCafe, 3598905713U},
    {HashKind::kFnv1a_32, kCafe, 1970454601U},
    {HashKind::kHsieh, kCafe, 3728705621U},
    {HashKind::kMurmur, kCafe, 3658586143U},
    {HashKind::kJenkins, kCafe, 3412207021U},
    {HashKind::kOneAtATime, kMixed13, 3276458459U},
    {HashKind::kMd5, kMixed13, 697957022U},
    {HashKind::kCrc16, kMixed13, 1893088587U},
    {HashKind::kCrc32, kMixed13, 613U},
    {HashKind::kCrc32a, kMixed13, 2187698166U},
    {HashKind::kFnv1_64, kMixed13, 3649615831U},
    {HashKind::kFnv1a_64, kMixed13, 2925536323U},
    {HashKind::kFnv1_32, kMixed13, 3924363255U},
    {HashKind::kFnv1a_32, kMixed13, 1232381283U},
    {HashKind::kHsieh, kMixed13, 257917797U},
    {HashKind::kMurmur, kMixed13, 897196765U},
    {HashKind::kJenkins, kMixed13, 2980337853U},
    {HashKind::kOneAtATime, kAllBytes, 3571313950U},
    {HashKind::kMd5, kAllBytes, 3680880866U},
    {HashKind::kCrc16, kAllBytes, 3439689301U},
    {HashKind::kCrc32, kAllBytes, 10501U},
    {HashKind::kCrc32a, kAllBytes, 688229491U},
    {HashKind::kFnv1_64, kAllBytes, 1421105445U},
    {HashKind::kFnv1a_64, kAllBytes, 3252658213U},
    {HashKind::kFnv1_32, kAllBytes, 1148338629U},
    {HashKind::kFnv1a_32, kAllBytes, 3725316805U},
    {HashKind::kHsieh, kAllBytes, 2804200527U},
    {HashKind::kMurmur, kAllBytes, 3391133120U},
    {HashKind::kJenkins, kAllBytes, 2562932646U},
};

TEST(HashFunction, MatchesNutcrackerOnEmptyAndHighByteKeys) {
  for (const Vector& v : kVectors) {
    EXPECT_EQ(Hash(v.kind, v.key), v.expected)
        << HashKindName(v.kind) << " of a " << v.key.size() << "-byte key";
  }
}

TEST(HashFunction, KnownAnswerTableCoversEveryNutcrackerHash) {
  std::vector<bool> seen(HashKindNames().size(), false);
  for (const Vector& v : kVectors) {
    seen[static_cast<size_t>(v.kind)] = true;
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (static_cast<HashKind>(i) != HashKind::kXxh3) {
      EXPECT_TRUE(seen[i]) << HashKindNames()[i];
    }
  }
}

// Functions that read words must give the same answer wherever the key sits in memory (nutcracker's
// jenkins even switches loops on alignment; on little-endian all paths agree).
TEST(HashFunction, ResultDoesNotDependOnKeyAlignment) {
  const std::string key(kAllBytes.substr(37, 61));
  for (const std::string_view name : HashKindNames()) {
    const HashKind kind = *ParseHashKind(name);
    const uint32_t expected = Hash(kind, key);
    for (size_t offset = 1; offset < 8; ++offset) {
      std::string shifted(offset, 'x');
      shifted += key;
      EXPECT_EQ(Hash(kind, std::string_view(shifted).substr(offset)), expected)
          << name << " at offset " << offset;
    }
  }
}

// The byte-at-a-time hashes exactly as nutcracker's loops state them, to check the library's
// unrolled loops at every key length and every tail length.
uint32_t SignExtendedByte(char c) {
  return static_cast<uint32_t>(static_cast<int32_t>(static_cast<signed char>(c)));
}

uint32_t ReferenceFnv1a64(std::string_view key) {
  uint32_t h = 0x84222325U;  // the low half of the 64-bit basis
  for (const char c : key) {
    h ^= SignExtendedByte(c);
    h *= 0x1b3U;  // the low half of the 64-bit prime
  }
  return h;
}

uint32_t ReferenceFnv1a32(std::string_view key) {
  uint32_t h = 2166136261U;
  for (const char c : key) {
    h ^= SignExtendedByte(c);
    h *= 16777619U;
  }
  return h;
}

uint32_t ReferenceFnv132(std::string_view key) {
  uint32_t h = 2166136261U;
  for (const char c : key) {
    h *= 16777619U;
    h ^= SignExtendedByte(c);
  }
  return h;
}

uint32_t ReferenceOneAtATime(std::string_view key) {
  uint32_t h = 0;
  for (const char c : key) {
    h += SignExtendedByte(c);
    h += h << 10;
    h ^= h >> 6;
  }
  h += h << 3;
  h ^= h >> 11;
  h += h << 15;
  return h;
}

TEST(HashFunction, ByteAtATimeHashesAgreeWithTheirLoopsAtEveryLength) {
  for (size_t length = 0; length <= 40; ++length) {
    // High and low bytes mixed, so sign extension matters at every position.
    std::string key;
    for (size_t i = 0; i < length; ++i) key += kAllBytes[(i * 97 + length * 13) % 256];
    EXPECT_EQ(Hash(HashKind::kFnv1a_64, key), ReferenceFnv1a64(key)) << length;
    EXPECT_EQ(Hash(HashKind::kFnv1a_32, key), ReferenceFnv1a32(key)) << length;
    EXPECT_EQ(Hash(HashKind::kFnv1_32, key), ReferenceFnv132(key)) << length;
    EXPECT_EQ(Hash(HashKind::kOneAtATime, key), ReferenceOneAtATime(key)) << length;
  }
}

TEST(HashFunction, HashFunctionForAgreesWithHash) {
  for (const std::string_view name : HashKindNames()) {
    const HashKind kind = *ParseHashKind(name);
    EXPECT_EQ(HashFunctionFor(kind)(kCafe.data(), kCafe.size()), Hash(kind, kCafe)) << name;
  }
}

}  // namespace
}  // namespace ringproxy::hashing
