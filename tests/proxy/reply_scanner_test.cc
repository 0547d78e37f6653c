// ReplyScanner: where each server reply ends, at every split point, and agreement with hiredis
// on random nested replies fed in random pieces; RESP3's types, attributes and refusals, and
// random RESP3 replies whose ends are known as they are built.
#include "dataplane/reply_scanner.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

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

// Frames `reply` (followed by another reply) whole, then cut at every point: the first piece is
// awaited and the whole then framed, each call on an exactly sized copy of the bytes so far.
void ExpectFramedAtEverySplit(const std::string& reply, char type) {
  SCOPED_TRACE(reply);
  const std::string stream = reply + "+NEXT\r\n";
  ReplyScanner whole;
  ASSERT_EQ(whole.Scan(stream.data(), stream.size()), Status::kComplete) << whole.error();
  EXPECT_EQ(whole.size(), reply.size());
  EXPECT_EQ(whole.type(), type);
  EXPECT_EQ(whole.is_error(), type == '-' || type == '!');
  for (size_t split = 0; split < reply.size(); ++split) {
    ReplyScanner scanner;
    const std::string piece = reply.substr(0, split);
    ASSERT_EQ(scanner.Scan(piece.data(), piece.size()), Status::kIncomplete) << split;
    ASSERT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kComplete) << split;
    EXPECT_EQ(scanner.size(), reply.size()) << split;
    EXPECT_EQ(scanner.type(), type) << split;
  }
  // And one byte at a time: every resumption point in one scan.
  ReplyScanner bytewise;
  for (size_t length = 1; length < reply.size(); ++length) {
    const std::string prefix = reply.substr(0, length);
    ASSERT_EQ(bytewise.Scan(prefix.data(), prefix.size()), Status::kIncomplete) << length;
  }
  ASSERT_EQ(bytewise.Scan(reply.data(), reply.size()), Status::kComplete);
  EXPECT_EQ(bytewise.size(), reply.size());
  EXPECT_EQ(bytewise.type(), type);
}

TEST(ReplyScanner, FramesEachResp3TypeAtEverySplitPoint) {
  const std::pair<std::string, char> samples[] = {
      {"_\r\n", '_'},
      {"#t\r\n", '#'},
      {"#f\r\n", '#'},
      {",1.5\r\n", ','},
      {",-0\r\n", ','},
      {",10\r\n", ','},
      {",inf\r\n", ','},
      {",-inf\r\n", ','},
      {",nan\r\n", ','},
      {",-nan\r\n", ','},
      {",1e+100\r\n", ','},
      {",3.0000000000000001e-05\r\n", ','},
      {",1.7976931348623157E308\r\n", ','},
      {"(3492890328409238509324850943850943825024385\r\n", '('},
      {"(-1\r\n", '('},
      {"(0\r\n", '('},
      {"!21\r\nSYNTAX invalid syntax\r\n", '!'},
      {"!0\r\n\r\n", '!'},
      {"=15\r\ntxt:Some string\r\n", '='},
      {"=4\r\nmkd:\r\n", '='},
      {"=6\r\ntxt:\r\n\r\n", '='},  // CRLF inside a body is data
      {"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n,2.5\r\n", '%'},
      {"%0\r\n", '%'},
      {"~3\r\n+a\r\n#t\r\n_\r\n", '~'},
      {"~0\r\n", '~'},
      {">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n", '>'},
      {">0\r\n", '>'},
      {"*2\r\n%1\r\n~1\r\n#t\r\n*0\r\n>1\r\n(7\r\n", '*'},
      {"%1\r\n%1\r\n_\r\n_\r\n~2\r\n=5\r\ntxt:x\r\n!1\r\nE\r\n", '%'},
      // Attributes at the top: the reply proper names the type.
      {"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
       "*2\r\n:2039123\r\n:9543892\r\n",
       '*'},
      {"|1\r\n+a\r\n:1\r\n-ERR x\r\n", '-'},
      {"|1\r\n+a\r\n:1\r\n!3\r\nERR\r\n", '!'},
      {"|1\r\n+a\r\n:1\r\n|0\r\n+OK\r\n", '+'},
      {"|0\r\n:1\r\n", ':'},
      {"|0\r\n|0\r\n$-1\r\n", '$'},
      {"|2\r\n+a\r\n:1\r\n+b\r\n*0\r\n$3\r\nabc\r\n", '$'},
      // Push, with and without an attribute.
      {">2\r\n+message\r\n+x\r\n", '>'},
      {"|1\r\n+a\r\n:1\r\n>2\r\n+message\r\n+x\r\n", '>'},
      // Attributes inside aggregates: attached to the element after them, not counted alone.
      {"*2\r\n|1\r\n+ttl\r\n:3600\r\n:7\r\n:8\r\n", '*'},
      {"*1\r\n|0\r\n:7\r\n", '*'},
      {"%1\r\n|1\r\n+a\r\n:1\r\n+key\r\n|1\r\n+b\r\n:2\r\n+value\r\n", '%'},
      {"~2\r\n|1\r\n+a\r\n:1\r\n*1\r\n|1\r\n+b\r\n:2\r\n_\r\n#f\r\n", '~'},
      // An attribute whose key and value carry attributes of their own.
      {"|1\r\n|1\r\n+k\r\n+v\r\n+a\r\n|1\r\n+b\r\n:2\r\n:1\r\n+OK\r\n", '+'},
      // A map whose last value is attributed: the map ends after that value.
      {"*2\r\n%1\r\n+k\r\n|1\r\n+a\r\n:1\r\n:9\r\n+after\r\n", '*'},
  };
  for (const auto& [reply, type] : samples) ExpectFramedAtEverySplit(reply, type);
}

TEST(ReplyScanner, RefusesMalformedResp3) {
  for (const std::string reply : {"_x\r\n",
                                  "_\r\r\n",
                                  "_ \r\n",
                                  "#x\r\n",
                                  "#\r\n",
                                  "#tt\r\n",
                                  "#T\r\n",
                                  ",\r\n",
                                  ",x\r\n",
                                  ",1.\r\n",
                                  ",.5\r\n",
                                  ",1e\r\n",
                                  ",1e+\r\n",
                                  ",--1\r\n",
                                  ",1.5.5\r\n",
                                  ",infinity\r\n",
                                  ", 1\r\n",
                                  ",1\rx",
                                  "(1a\r\n",
                                  "(\r\n",
                                  "(-\r\n",
                                  "(+1\r\n",
                                  "(1\r1\r\n",
                                  "=3\r\nabc\r\n",
                                  "=0\r\n\r\n",
                                  "=5\r\ntxt_x\r\n",
                                  "=5\r\ntxt:xyz",
                                  "!-1\r\n",
                                  "=-1\r\n",
                                  "!3\r\nabcde\r\n",
                                  "%-1\r\n",
                                  "~-1\r\n",
                                  ">-1\r\n",
                                  "|-1\r\n",
                                  "%-2\r\n",
                                  "%x\r\n",
                                  "%01\r\n",
                                  "*1\r\n_x\r\n",
                                  "%1\r\n+k\r\n#x\r\n",
                                  "|1\r\n+a\r\n(1a\r\n",
                                  "^1\r\n"}) {
    ReplyScanner scanner;
    EXPECT_EQ(scanner.Scan(reply.data(), reply.size()), Status::kError) << reply;
    EXPECT_NE(scanner.error(), "") << reply;
  }
}

TEST(ReplyScanner, RefusesStreamedReplies) {
  for (const std::string reply :
       {"$?\r\n;4\r\nHell\r\n;0\r\n", "*?\r\n:1\r\n.\r\n", "%?\r\n", "~?\r\n", ">?\r\n", "|?\r\n",
        "!?\r\n", "=?\r\n", ";4\r\nabcd\r\n", ".\r\n", "*1\r\n$?\r\n"}) {
    ReplyScanner scanner;
    EXPECT_EQ(scanner.Scan(reply.data(), reply.size()), Status::kError) << reply;
    EXPECT_NE(scanner.error().find("streamed"), std::string_view::npos)
        << reply << ": " << scanner.error();
  }
}

TEST(ReplyScanner, AResp3LineIsRefusedPast64KiBLikeAStatusLine) {
  const size_t longest = ReplyScanner::kMaxLineBytes - 2;
  for (const char type : {',', '(', '_', '#'}) {
    // Digits keep the double and the big number valid; the null and the boolean are refused
    // for their text, but only once the line has ended or grown too long.
    const std::string line = std::string(1, type) + std::string(longest + 1, '1') + "\r\n";
    ReplyScanner scanner;
    EXPECT_EQ(scanner.Scan(line.data(), line.size()), Status::kError) << type;
    ReplyScanner waiting;
    EXPECT_EQ(waiting.Scan(line.data(), longest + 1), Status::kIncomplete) << type;
    EXPECT_EQ(waiting.Scan(line.data(), longest + 3), Status::kError) << type;
  }
  const std::string fits = "(" + std::string(longest, '9') + "\r\n";
  ReplyScanner scanner;
  ASSERT_EQ(scanner.Scan(fits.data(), fits.size()), Status::kComplete);
  EXPECT_EQ(scanner.size(), fits.size());
}

TEST(ReplyScanner, Resp3AggregatesAreCheckedAgainstTheLimit) {
  // A map of n pairs announces 2n elements: 160 pairs need 960 bytes, 170 need 1020.
  ReplyScanner fits(1000);
  EXPECT_EQ(fits.Scan("%160\r\n", 6), Status::kIncomplete);
  for (const std::string header : {"%170\r\n", "|170\r\n", "~400\r\n", ">400\r\n"}) {
    ReplyScanner scanner(1000);
    EXPECT_EQ(scanner.Scan(header.data(), header.size()), Status::kError) << header;
    EXPECT_NE(scanner.error().find("larger than the proxy's limit"), std::string_view::npos)
        << header;
  }
  // Counts whose doubling or whose element bytes would overflow, at the default limit.
  for (const std::string header :
       {"%9223372036854775807\r\n", "|4611686018427387904\r\n", "%2147483648\r\n",
        "~9223372036854775807\r\n", "%1000000000\r\n"}) {
    ReplyScanner scanner;
    const std::string stream = header + std::string(100, 'x');
    EXPECT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kError) << header;
  }
  // Blob errors and verbatim strings are held to the limit like bulks, and awaited by size.
  ReplyScanner blob(1000);
  EXPECT_EQ(blob.Scan("!2000\r\n", 7), Status::kError);
  ReplyScanner verbatim(1000);
  EXPECT_EQ(verbatim.Scan("=900\r\ntxt:", 10), Status::kIncomplete);
  EXPECT_EQ(verbatim.expected_size(), 6u + 900u + 2u);
  // A chain of attributes grows the reply like anything else.
  std::string chain;
  for (int i = 0; i < 30; ++i) chain += "|0\r\n";
  ReplyScanner limited(64);
  EXPECT_EQ(limited.Scan(chain.data(), chain.size()), Status::kError);
}

TEST(ReplyScanner, FramesResp3NestingOfAnyDepth) {
  for (const size_t depth : {600u, 100000u}) {
    // Maps nested in map values, each value also behind an attribute, and a long run of empty
    // attributes before the reply.
    std::string reply;
    for (size_t i = 0; i < depth; ++i) reply += "|0\r\n";
    for (size_t i = 0; i < depth; ++i) reply += "%1\r\n+k\r\n|1\r\n+a\r\n_\r\n";
    reply += "#t\r\n";
    const std::string stream = reply + "+NEXT\r\n";
    ReplyScanner scanner;
    ASSERT_EQ(scanner.Scan(stream.data(), stream.size()), Status::kComplete) << depth;
    EXPECT_EQ(scanner.size(), reply.size()) << depth;
    EXPECT_EQ(scanner.type(), '%');
    ReplyScanner pieces;
    ASSERT_EQ(pieces.Scan(reply.data(), reply.size() / 2), Status::kIncomplete);
    ASSERT_EQ(pieces.Scan(reply.data(), reply.size()), Status::kComplete);
    EXPECT_EQ(pieces.size(), reply.size());
  }
}

TEST(ReplyScanner, Resp2RepliesKeepTheirTypes) {
  // The RESP3 changes leave every RESP2 answer as it was, including the errors.
  ReplyScanner scanner;
  ASSERT_EQ(scanner.Scan("-ERR x\r\n", 8), Status::kComplete);
  EXPECT_EQ(scanner.type(), '-');
  EXPECT_TRUE(scanner.is_error());
  ASSERT_EQ(scanner.Scan("*-1\r\n", 5), Status::kComplete);
  EXPECT_EQ(scanner.type(), '*');
  EXPECT_FALSE(scanner.is_error());
  ASSERT_EQ(scanner.Scan("$-1\r\n", 5), Status::kComplete);
  EXPECT_EQ(scanner.type(), '$');
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

// Appends a random RESP3 element (with attributes now and then) and returns the type of the
// element proper.
char RandomResp3Element(std::mt19937& rng, int depth, std::string* out) {
  while (rng() % 8 == 0) {
    const int pairs = static_cast<int>(rng() % 3);
    *out += "|" + std::to_string(pairs) + "\r\n";
    for (int i = 0; i < 2 * pairs; ++i) RandomResp3Element(rng, depth + 1, out);
  }
  static const char* const kLines[] = {
      "_\r\n",    "#t\r\n",        "#f\r\n",     ",3.25\r\n",
      ",inf\r\n", ",-1.5e-07\r\n", ",nan\r\n",   "(12345678901234567890123\r\n",
      "(-7\r\n",  "+OK\r\n",       "-ERR e\r\n", ":-42\r\n",
      "$-1\r\n",  "*-1\r\n"};
  switch (rng() % (depth < 4 ? 5 : 3)) {
    case 0: {
      const char* line = kLines[rng() % std::size(kLines)];
      *out += line;
      return line[0];
    }
    case 1: {
      static constexpr char kTypes[] = {'$', '!', '='};
      const char type = kTypes[rng() % 3];
      std::string body(rng() % 30, '\0');
      for (char& c : body) c = static_cast<char>(rng() & 0xff);
      if (type == '=') body = (rng() % 2 ? "txt:" : "mkd:") + body;
      *out += type + std::to_string(body.size()) + "\r\n" + body + "\r\n";
      return type;
    }
    case 2:
      *out += ":" + std::to_string(rng() % 100) + "\r\n";
      return ':';
    default: {
      static constexpr char kTypes[] = {'*', '%', '~', '>'};
      const char type = kTypes[rng() % 4];
      const int n = static_cast<int>(rng() % 4);
      *out += type + std::to_string(n) + "\r\n";
      const int elements = type == '%' ? 2 * n : n;
      for (int i = 0; i < elements; ++i) RandomResp3Element(rng, depth + 1, out);
      return type;
    }
  }
}

TEST(ReplyScanner, FramesRandomResp3RepliesFedInRandomPieces) {
  std::mt19937 rng(4242);
  for (int round = 0; round < 300; ++round) {
    std::string stream;
    std::vector<std::pair<size_t, char>> expected;  // end offset and type of each reply
    const int replies = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < replies; ++i) {
      const char type = RandomResp3Element(rng, 0, &stream);
      expected.emplace_back(stream.size(), type);
    }
    ReplyScanner scanner;
    size_t consumed = 0;
    size_t received = 0;
    size_t framed = 0;
    while (received < stream.size()) {
      received += std::min<size_t>(1 + rng() % 20, stream.size() - received);
      while (consumed < received) {
        // An exactly sized copy: a read past what was received is caught under ASan.
        const std::string buffer = stream.substr(consumed, received - consumed);
        const Status status = scanner.Scan(buffer.data(), buffer.size());
        ASSERT_NE(status, Status::kError) << "round " << round << ": " << scanner.error();
        if (status != Status::kComplete) break;
        ASSERT_LT(framed, expected.size());
        consumed += scanner.size();
        EXPECT_EQ(consumed, expected[framed].first) << "round " << round << " reply " << framed;
        EXPECT_EQ(scanner.type(), expected[framed].second) << "round " << round;
        ++framed;
      }
    }
    EXPECT_EQ(framed, expected.size()) << "round " << round;
  }
}

}  // namespace
}  // namespace ringproxy::proxy
