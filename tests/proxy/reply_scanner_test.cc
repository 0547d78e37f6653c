// ReplyScanner: where each server reply ends, at every split point, and agreement with hiredis
// on random nested replies fed in random pieces.
#include "dataplane/reply_scanner.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <random>
#include <string>

namespace ringproxy::proxy {
namespace {

using Status = ReplyScanner::Status;

TEST(ReplyScanner, FramesEachReplyType) {
  for (const std::string reply :
       {"+OK\r\n", "-ERR x\r\n", ":42\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
        "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n*1\r\n+a\r\n*0\r\n"}) {
    ReplyScanner scanner;
    const std::string stream = reply + "+NEXT\r\n";
    ASSERT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kComplete) << reply;
    EXPECT_EQ(scanner.size(), reply.size()) << reply;
    EXPECT_EQ(scanner.type(), reply[0]);
  }
}

TEST(ReplyScanner, EverySplitPointOfANestedReply) {
  const std::string reply = "*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n$-1\r\n-ERR nested\r\n";
  for (size_t split = 0; split < reply.size(); ++split) {
    ReplyScanner scanner;
    ASSERT_EQ(scanner.Scan(reply.data(), split), Status::kIncomplete) << split;
    ASSERT_EQ(scanner.Scan(reply.data(), reply.size()), Status::kComplete) << split;
    EXPECT_EQ(scanner.size(), reply.size());
    EXPECT_EQ(scanner.type(), '*');
  }
}

TEST(ReplyScanner, MalformedRepliesAreErrors) {
  for (const std::string reply : {"?x\r\n", "$abc\r\n", "$3\r\nabcde\r\n", "*x\r\n", ":1\rX"}) {
    ReplyScanner scanner;
    EXPECT_EQ(scanner.Scan(reply.data(), reply.size()), Status::kError) << reply;
  }
}

TEST(ReplyScanner, FramesNestingOfAnyDepth) {
  // A Lua script can return a table thousands deep; Redis sends it, so it must pass.
  for (const size_t depth : {600u, 100000u}) {
    std::string reply;
    for (size_t i = 0; i < depth; ++i) reply += "*1\r\n";
    reply += ":7\r\n";
    const std::string stream = reply + "+NEXT\r\n";
    ReplyScanner scanner;
    ASSERT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kComplete) << depth;
    EXPECT_EQ(scanner.size(), reply.size()) << depth;
    // And resumed from any cut.
    ReplyScanner pieces;
    ASSERT_EQ(pieces.Scan(reply.data(), reply.size() / 2), Status::kIncomplete);
    ASSERT_EQ(pieces.Scan(reply.data(), reply.size()), Status::kComplete);
    EXPECT_EQ(pieces.size(), reply.size());
  }
}

TEST(ReplyScanner, RefusesLengthsNoReplyWithinTheLimitCouldHave) {
  // From a hostile server: lengths that would wrap an end offset or make the proxy reserve
  // memory it was never sent.
  for (const std::string reply :
       {"$9223372036854775803\r\n", "$9223372036854775807\r\n", "$100000000000\r\n",
        "*9223372036854775807\r\n", "*2000000000\r\n"}) {
    ReplyScanner scanner;
    const std::string stream = reply + std::string(100, 'x');
    EXPECT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kError) << reply;
    EXPECT_NE(scanner.error(), "") << reply;
  }
  // Within the limit the same shapes are awaited, never refused.
  ReplyScanner small(1000);
  EXPECT_EQ(small.Scan("$990\r\n", 6), Status::kIncomplete);
  EXPECT_EQ(small.expected_size(), 6u + 990u + 2u);
  ReplyScanner over(1000);
  EXPECT_EQ(over.Scan("$995\r\n", 6), Status::kError);
  ReplyScanner wide(1000);
  EXPECT_EQ(wide.Scan("*400\r\n", 6), Status::kError);  // 400 elements need > 1000 bytes
}

TEST(ReplyScanner, AStatusLineIsRefusedPast64KiBWhereverTheReadsCutIt) {
  // The type byte and the CR count: the longest line has 64 KiB up to its CR.
  const size_t longest = ReplyScanner::kMaxLineBytes - 2;
  for (const size_t text : {longest, longest + 1, longest + 1000}) {
    const std::string line = "+" + std::string(text, 'x') + "\r\n";
    const bool fits = text <= longest;
    ReplyScanner whole;
    EXPECT_EQ(whole.Scan(line.data(), line.size()), fits ? Status::kComplete : Status::kError)
        << text;
    // Cut anywhere near the end, as reads deliver it: the same verdict.
    for (size_t cut = line.size() - 4; cut < line.size(); ++cut) {
      ReplyScanner scanner;
      const Status first = scanner.Scan(line.data(), cut);
      const Status last =
          first == Status::kIncomplete ? scanner.Scan(line.data(), line.size()) : first;
      EXPECT_EQ(last, fits ? Status::kComplete : Status::kError) << text << " cut at " << cut;
    }
  }
}

TEST(ReplyScanner, RefusesAReplyThatGrowsPastTheLimit) {
  ReplyScanner scanner(64);
  std::string reply = "*100\r\n";
  ASSERT_EQ(scanner.Scan(reply.data(), reply.size()), Status::kError);  // 100 x 3 > 64
  ReplyScanner growing(64);
  reply = "*20\r\n";
  for (int i = 0; i < 20; ++i) reply += ":1\r\n";  // 6 + 80 bytes
  EXPECT_EQ(growing.Scan(reply.data(), reply.size()), Status::kError);
}

TEST(ReplyScanner, ReportsTheSizeOfAnAwaitedBulk) {
  const std::string reply = "$1000\r\nabc";
  ReplyScanner scanner;
  ASSERT_EQ(scanner.Scan(reply.data(), reply.size()), Status::kIncomplete);
  EXPECT_EQ(scanner.expected_size(), 7u + 1000u + 2u);
}

TEST(ReplyScanner, BulkLengthsOfEveryDigitCount) {
  for (const size_t length : {0u, 1u, 9u, 10u, 99u, 100u, 12345u, 123456u}) {
    const std::string reply =
        "$" + std::to_string(length) + "\r\n" + std::string(length, 'v') + "\r\n";
    const std::string stream = reply + "$1\r\nx\r\n";
    ReplyScanner scanner;
    ASSERT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kComplete) << length;
    EXPECT_EQ(scanner.size(), reply.size()) << length;
    EXPECT_EQ(scanner.type(), '$');
    // One byte short: incomplete, and the awaited size is the whole reply.
    ReplyScanner partial;
    ASSERT_EQ(partial.Scan(reply.data(), reply.size() - 1), Status::kIncomplete) << length;
    EXPECT_EQ(partial.expected_size(), reply.size()) << length;
  }
  // Ten digits and more: still framed, still awaited by size (within the reply limit).
  const std::string huge = "$1234567890\r\nabc";
  ReplyScanner scanner(size_t{4} << 30);
  ASSERT_EQ(scanner.Scan(huge.data(), huge.size()), Status::kIncomplete);
  EXPECT_EQ(scanner.expected_size(), 13u + 1234567890u + 2u);
  for (const std::string bad : {"$01\r\na\r\n", "$1\r\nabc", "$-2\r\n", "$1\n\r\na\r\n"}) {
    ReplyScanner malformed;
    EXPECT_EQ(malformed.Scan(bad.data(), bad.size()), Status::kError) << bad;
  }
}

void RandomReply(std::mt19937& rng, int depth, std::string* out) {
  switch (rng() % (depth < 4 ? 6 : 5)) {
    case 0:
      *out += "+simple " + std::to_string(rng() % 1000) + "\r\n";
      break;
    case 1:
      *out += "-ERR error " + std::to_string(rng() % 1000) + "\r\n";
      break;
    case 2:
      *out += ":" + std::to_string(static_cast<int64_t>(rng()) - 2000000000) + "\r\n";
      break;
    case 3: {
      std::string bulk(rng() % 50, '\0');
      for (char& c : bulk) c = static_cast<char>(rng() & 0xff);
      *out += "$" + std::to_string(bulk.size()) + "\r\n" + bulk + "\r\n";
      break;
    }
    case 4:
      *out += rng() % 2 ? "$-1\r\n" : "*-1\r\n";
      break;
    default: {
      const int n = static_cast<int>(rng() % 5);
      *out += "*" + std::to_string(n) + "\r\n";
      for (int i = 0; i < n; ++i) RandomReply(rng, depth + 1, out);
    }
  }
}

TEST(ReplyScanner, AgreesWithHiredisOnRandomFragmentedReplies) {
  std::mt19937 rng(777);
  for (int round = 0; round < 300; ++round) {
    std::string stream;
    const int replies = 1 + static_cast<int>(rng() % 10);
    for (int i = 0; i < replies; ++i) RandomReply(rng, 0, &stream);

    redisReader* reader = redisReaderCreate();
    ReplyScanner scanner;
    std::string buffer;
    size_t ours = 0;
    size_t theirs = 0;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t chunk = std::min<size_t>(1 + rng() % 25, stream.size() - pos);
      buffer.append(stream, pos, chunk);
      ASSERT_EQ(redisReaderFeed(reader, stream.data() + pos, chunk), REDIS_OK);
      pos += chunk;
      while (!buffer.empty()) {
        const Status status = scanner.Scan(buffer.data(), buffer.size());
        ASSERT_NE(status, Status::kError);
        if (status != Status::kComplete) break;
        buffer.erase(0, scanner.size());
        ++ours;
      }
      void* reply = nullptr;
      while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr) {
        freeReplyObject(reply);
        reply = nullptr;
        ++theirs;
      }
      ASSERT_EQ(ours, theirs) << "round " << round << " at byte " << pos;
    }
    EXPECT_EQ(ours, static_cast<size_t>(replies));
    redisReaderFree(reader);
  }
}

}  // namespace
}  // namespace ringproxy::proxy
