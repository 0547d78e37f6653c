#include "hashing/server_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace ringproxy::hashing {
namespace {

using namespace std::string_view_literals;

TEST(NutcrackerNameLess, ShorterNameSortsFirstWhateverItsBytes) {
  EXPECT_TRUE(NutcrackerNameLess("zz", "aaa"));
  EXPECT_FALSE(NutcrackerNameLess("aaa", "zz"));
  EXPECT_TRUE(NutcrackerNameLess("10.0.0.9:6379", "10.0.0.10:6379"));
}

TEST(NutcrackerNameLess, EqualLengthComparesUnsignedBytes) {
  EXPECT_TRUE(NutcrackerNameLess("redis-2100", "redis-2101"));
  EXPECT_FALSE(NutcrackerNameLess("redis-2101", "redis-2100"));
  EXPECT_TRUE(NutcrackerNameLess("a", "\x80"));
  EXPECT_FALSE(NutcrackerNameLess("\x80", "a"));
  EXPECT_TRUE(NutcrackerNameLess("B", "a"));
}

TEST(NutcrackerNameLess, IsIrreflexive) {
  EXPECT_FALSE(NutcrackerNameLess("", ""));
  EXPECT_FALSE(NutcrackerNameLess("redis-1", "redis-1"));
}

// strncmp stops at a NUL both names share.
TEST(NutcrackerNameLess, NamesEqualUpToASharedNulAreEquivalent) {
  EXPECT_FALSE(NutcrackerNameLess("a\0x"sv, "a\0y"sv));
  EXPECT_FALSE(NutcrackerNameLess("a\0y"sv, "a\0x"sv));
  EXPECT_TRUE(NutcrackerNameLess("a\0y"sv, "ab\0"sv));
}

TEST(NutcrackerNameLess, SortsAPoolAsNutcrackerDoes) {
  std::vector<std::string> names = {"redis-10", "redis-9",       "cache",         "redis-1",
                                    "Redis-2",  "10.0.0.2:6379", "10.0.0.10:6379"};
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return NutcrackerNameLess(a, b); });
  const std::vector<std::string> expected = {
      "cache", "Redis-2", "redis-1", "redis-9", "redis-10", "10.0.0.2:6379", "10.0.0.10:6379"};
  EXPECT_EQ(names, expected);
}

}  // namespace
}  // namespace ringproxy::hashing
