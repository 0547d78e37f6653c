#include "hashing/hash_tag.h"

#include <gtest/gtest.h>

#include <string_view>

namespace ringproxy::hashing {
namespace {

using namespace std::string_view_literals;

TEST(HashTag, EmptyTagHashesWholeKey) { EXPECT_EQ(HashTagKey("{user}:1", ""), "{user}:1"); }

TEST(HashTag, TextBetweenBracesIsHashed) {
  EXPECT_EQ(HashTagKey("{user1000}.following", "{}"), "user1000");
  EXPECT_EQ(HashTagKey("a{b}c", "{}"), "b");
}

TEST(HashTag, TagAtEndOfKey) { EXPECT_EQ(HashTagKey("session:{42}", "{}"), "42"); }

TEST(HashTag, EmptyTagTextHashesWholeKey) {
  EXPECT_EQ(HashTagKey("{}user", "{}"), "{}user");
  EXPECT_EQ(HashTagKey("user{}", "{}"), "user{}");
}

TEST(HashTag, MissingOpenCharHashesWholeKey) {
  EXPECT_EQ(HashTagKey("user}1", "{}"), "user}1");
  EXPECT_EQ(HashTagKey("plain", "{}"), "plain");
}

TEST(HashTag, MissingCloseCharHashesWholeKey) {
  EXPECT_EQ(HashTagKey("{user1", "{}"), "{user1");
  EXPECT_EQ(HashTagKey("user{", "{}"), "user{");
}

// nutcracker looks for the close char only after the first open char.
TEST(HashTag, CloseCharBeforeOpenCharIsIgnored) {
  EXPECT_EQ(HashTagKey("}a{b}", "{}"), "b");
  EXPECT_EQ(HashTagKey("}a{b", "{}"), "}a{b");
}

TEST(HashTag, FirstOpenAndFirstFollowingCloseWin) {
  EXPECT_EQ(HashTagKey("{a}{b}", "{}"), "a");
  EXPECT_EQ(HashTagKey("{{a}}", "{}"), "{a");
  EXPECT_EQ(HashTagKey("x{a{b}c}", "{}"), "a{b");
}

TEST(HashTag, SameOpenAndCloseChar) {
  EXPECT_EQ(HashTagKey("a$b$c", "$$"), "b");
  EXPECT_EQ(HashTagKey("a$b$c$d", "$$"), "b");
  EXPECT_EQ(HashTagKey("$$x", "$$"), "$$x");
  EXPECT_EQ(HashTagKey("a$b", "$$"), "a$b");
}

TEST(HashTag, AnyTwoCharactersWork) {
  EXPECT_EQ(HashTagKey("user:<id7>:name", "<>"), "id7");
  EXPECT_EQ(HashTagKey("ab:cd:ef", "::"), "cd");
}

TEST(HashTag, EmptyKeyStaysEmpty) {
  EXPECT_EQ(HashTagKey("", "{}"), "");
  EXPECT_EQ(HashTagKey("", ""), "");
}

TEST(HashTag, KeyBytesAreNotInterpreted) {
  EXPECT_EQ(HashTagKey("\0{\x80\xff}\0"sv, "{}"), "\x80\xff"sv);
}

TEST(HashTag, ResultViewsTheKeyWithoutCopying) {
  const std::string_view key = "pre{tag}post";
  const std::string_view hashed = HashTagKey(key, "{}");
  EXPECT_EQ(hashed.data(), key.data() + 4);
  EXPECT_EQ(hashed.size(), 3U);
  EXPECT_EQ(HashTagKey(key, "").data(), key.data());
}

}  // namespace
}  // namespace ringproxy::hashing
