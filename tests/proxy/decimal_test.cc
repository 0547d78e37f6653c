// ParseDecimal against Redis's own reading of a number (string2ll): every case below was checked
// against redis-server 7.0 (SELECT, HELLO, EVAL numkeys answer "not an integer" exactly where
// this table says refused).
#include "base/decimal.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace ringproxy::proxy {
namespace {

struct Accepted {
  std::string_view text;
  int64_t value;
};

TEST(ParseDecimal, ReadsEveryCanonicalInt64) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const Accepted cases[] = {
      {"0", 0},
      {"1", 1},
      {"-1", -1},
      {"7", 7},
      {"10", 10},
      {"-10", -10},
      {"99", 99},
      {"-99", -99},
      {"100200300", 100200300},
      {"9223372036854775807", kMax},
      {"-9223372036854775807", kMin + 1},
      {"-9223372036854775808", kMin},
  };
  for (const Accepted& c : cases) {
    int64_t value = 12345;
    EXPECT_TRUE(ParseDecimal(c.text, &value)) << c.text;
    EXPECT_EQ(value, c.value) << c.text;
  }
}

TEST(ParseDecimal, RefusesWhatRedisRefusesAndLeavesTheValueAlone) {
  const std::string_view cases[] = {
      "",                      // nothing
      "-",                     // a sign alone
      "--1",                   // two signs
      "+1",                    // Redis takes no '+'
      "+0",                    //
      "-0",                    // zero has one spelling
      "00",                    // leading zeros
      "01",                    //
      "007",                   //
      "-01",                   //
      " 1",                    // spaces anywhere
      "1 ",                    //
      "1 2",                   //
      "\t1",                   //
      "1\r\n",                 // a line ending is not part of the number
      "1.0",                   // no fractions, exponents, hex or words
      "1e3",                   //
      "0x10",                  //
      "ten",                   //
      "1a",                    //
      "9223372036854775808",   // INT64_MAX + 1
      "-9223372036854775809",  // INT64_MIN - 1
      "18446744073709551615",  // UINT64_MAX
      "18446744073709551616",  // wraps uint64 to 0
      "18446744073709551626",  // wraps uint64 to 10
      "99999999999999999999",  //
      "100000000000000000000000000000000000000000000",
  };
  for (const std::string_view text : cases) {
    int64_t value = 12345;
    EXPECT_FALSE(ParseDecimal(text, &value)) << '"' << text << '"';
    EXPECT_EQ(value, 12345) << '"' << text << '"';
  }
}

TEST(ParseDecimal, ReadsOnlyTheBytesOfTheViewItIsGiven) {
  // A view into a larger buffer (an argument inside a request): the digits after it are not read.
  const std::string buffer = "12345";
  int64_t value = 0;
  EXPECT_TRUE(ParseDecimal(std::string_view(buffer).substr(0, 2), &value));
  EXPECT_EQ(value, 12);
  // A NUL is a byte like any other, not the end of the text.
  EXPECT_FALSE(ParseDecimal(std::string_view("1\0", 2), &value));
}

}  // namespace
}  // namespace ringproxy::proxy
