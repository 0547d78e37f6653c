#include "hashing/md5.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace ringproxy::hashing {
namespace {

std::string Hex(const Md5Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const uint8_t byte : digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

Md5Digest OpenSslMd5(std::string_view data) {
  Md5Digest digest{};
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_md5(), nullptr), 1);
  EXPECT_EQ(size, digest.size());
  return digest;
}

TEST(Md5, MatchesRfc1321TestSuite) {
  const std::pair<std::string_view, std::string_view> kSuite[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const auto& [input, hex] : kSuite) {
    EXPECT_EQ(Hex(Md5(input)), hex) << '"' << input << '"';
  }
}

// Every length around the padding boundaries (55/56 and 63/64 bytes decide whether the length
// field needs a second block) and well past several blocks, with random bytes including >= 0x80.
TEST(Md5, MatchesOpenSslForEveryLengthUpTo300) {
  std::mt19937 rng(1321);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t size = 0; size <= 300; ++size) {
    std::string input(size, '\0');
    for (char& c : input) {
      c = static_cast<char>(byte(rng));
    }
    EXPECT_EQ(Hex(Md5(input)), Hex(OpenSslMd5(input))) << size << " bytes";
  }
}

TEST(Md5, MatchesOpenSslForRandomInputs) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<size_t> length(0, 5000);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 500; ++round) {
    std::string input(length(rng), '\0');
    for (char& c : input) {
      c = static_cast<char>(byte(rng));
    }
    ASSERT_EQ(Hex(Md5(input)), Hex(OpenSslMd5(input))) << input.size() << " bytes";
  }
}

// The two points twemproxy's tests check for "server1-8": little-endian words 0 and 3.
TEST(Md5, KetamaWordsOfServer1Dash8MatchTwemproxy) {
  const Md5Digest digest = Md5("server1-8");
  auto word = [&](size_t i) {
    return static_cast<uint32_t>(digest[4 * i]) | (static_cast<uint32_t>(digest[4 * i + 1]) << 8) |
           (static_cast<uint32_t>(digest[4 * i + 2]) << 16) |
           (static_cast<uint32_t>(digest[4 * i + 3]) << 24);
  };
  EXPECT_EQ(word(0), 3853726576U);
  EXPECT_EQ(word(3), 2667054752U);
}

}  // namespace
}  // namespace ringproxy::hashing
