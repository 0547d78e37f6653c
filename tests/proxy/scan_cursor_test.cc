// ScanCursor: the pool's SCAN cursor names a server and that server's cursor; every decimal a
// client sends decodes to a valid server, the scan visits the servers in order, and 0 comes back
// only after the last one.
#include "dataplane/scan_cursor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace ringproxy::proxy {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(ScanCursor, DecodeAndNextRoundTrip) {
  for (const uint32_t servers : {1u, 2u, 3u, 7u, 1000u}) {
    for (uint32_t server = 0; server < servers; server += (servers > 10 ? 97 : 1)) {
      for (const uint64_t returned : {uint64_t{1}, uint64_t{12345}, uint64_t{1} << 40}) {
        uint64_t client = 0;
        ASSERT_TRUE(ScanCursor::Next(server, returned, servers, &client));
        ScanCursor cursor;
        ASSERT_TRUE(ScanCursor::Decode(std::to_string(client), servers, &cursor));
        EXPECT_EQ(cursor.server, server);
        EXPECT_EQ(cursor.server_cursor, returned);
      }
    }
  }
}

TEST(ScanCursor, AFinishedServerHandsOverToTheNextAndTheLastEndsTheScan) {
  uint64_t next = 99;
  ASSERT_TRUE(ScanCursor::Next(0, 0, 3, &next));
  EXPECT_EQ(next, 1u);
  ScanCursor cursor;
  ASSERT_TRUE(ScanCursor::Decode("1", 3, &cursor));
  EXPECT_EQ(cursor.server, 1u);
  EXPECT_EQ(cursor.server_cursor, 0u);
  ASSERT_TRUE(ScanCursor::Next(1, 0, 3, &next));
  EXPECT_EQ(next, 2u);
  ASSERT_TRUE(ScanCursor::Next(2, 0, 3, &next));
  EXPECT_EQ(next, 0u);
  // A pool of one server: the cursor is the server's own.
  ASSERT_TRUE(ScanCursor::Next(0, 5, 1, &next));
  EXPECT_EQ(next, 5u);
  ASSERT_TRUE(ScanCursor::Next(0, kMax, 1, &next));
  EXPECT_EQ(next, kMax);
}

TEST(ScanCursor, AServerCursorTooLargeToEncodeIsRefusedNotWrapped) {
  uint64_t next = 0;
  EXPECT_TRUE(ScanCursor::Next(3, (kMax - 3) / 4, 4, &next));
  EXPECT_EQ(next % 4, 3u);
  EXPECT_FALSE(ScanCursor::Next(3, (kMax - 3) / 4 + 1, 4, &next));
  EXPECT_FALSE(ScanCursor::Next(0, kMax, 2, &next));
}

TEST(ScanCursor, DecodeReadsWhatRedisReadsAndRefusesTheRest) {
  ScanCursor cursor;
  // strtoul, as Redis: "" is 0, a sign is allowed, leading zeros too.
  for (const char* valid : {"", "0", "+0", "000", "-0"}) {
    ASSERT_TRUE(ScanCursor::Decode(valid, 4, &cursor)) << valid;
    EXPECT_EQ(cursor.server, 0u) << valid;
    EXPECT_EQ(cursor.server_cursor, 0u) << valid;
  }
  ASSERT_TRUE(ScanCursor::Decode("-1", 4, &cursor));  // 2^64 - 1
  EXPECT_EQ(cursor.server, 3u);
  EXPECT_EQ(cursor.server_cursor, kMax / 4);
  ASSERT_TRUE(ScanCursor::Decode("18446744073709551615", 4, &cursor));
  EXPECT_EQ(cursor.server, 3u);
  for (const char* invalid : {"x", "1x", " 1", "1 ", "+", "-", "18446744073709551616", "1e3"}) {
    EXPECT_FALSE(ScanCursor::Decode(invalid, 4, &cursor)) << invalid;
  }
  EXPECT_FALSE(ScanCursor::Decode("0", 0, &cursor));
}

TEST(ScanCursor, ServerCursorsAreDigitsOnly) {
  uint64_t value = 0;
  EXPECT_TRUE(ParseServerCursor("18446744073709551615", &value));
  EXPECT_EQ(value, kMax);
  EXPECT_FALSE(ParseServerCursor("18446744073709551616", &value));
  EXPECT_FALSE(ParseServerCursor("", &value));
  EXPECT_FALSE(ParseServerCursor("-1", &value));
  EXPECT_FALSE(ParseServerCursor("+1", &value));
}

}  // namespace
}  // namespace ringproxy::proxy
