// RequestParser: every split point of the input, zero-copy argument views, Redis's error texts,
// and agreement with hiredis's reader on where each request ends.
#include "dataplane/request_parser.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <random>
#include <string>
#include <vector>

namespace ringproxy::proxy {
namespace {

using Status = RequestParser::Status;

std::vector<std::string> Args(const RequestParser& parser, const char* data) {
  std::vector<std::string> args;
  for (size_t i = 0; i < parser.argc(); ++i) args.emplace_back(parser.arg(data, i));
  return args;
}

TEST(RequestParser, FramesOneMultibulkRequest) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kComplete);
  EXPECT_EQ(parser.consumed(), input.size());
  EXPECT_FALSE(parser.is_inline());
  EXPECT_EQ(Args(parser, input.data()), (std::vector<std::string>{"GET", "foo"}));
}

TEST(RequestParser, ArgumentsViewTheCallersBuffer) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kComplete);
  EXPECT_EQ(parser.arg(input.data(), 1).data(), input.data() + 17);
}

TEST(RequestParser, EverySplitPointGivesTheSameRequest) {
  const std::string input = "*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$10\r\n0123456789\r\n";
  for (size_t split = 0; split <= input.size(); ++split) {
    RequestParser parser;
    Status status = parser.Parse(input.data(), split);
    if (split < input.size()) {
      ASSERT_EQ(status, Status::kIncomplete) << "split " << split;
      status = parser.Parse(input.data(), input.size());
    }
    ASSERT_EQ(status, Status::kComplete) << "split " << split;
    EXPECT_EQ(parser.consumed(), input.size());
    EXPECT_EQ(Args(parser, input.data()), (std::vector<std::string>{"SET", "key:1", "0123456789"}));
  }
}

TEST(RequestParser, ResumesFromAMovedBuffer) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
  RequestParser parser;
  std::string first = input.substr(0, 15);
  ASSERT_EQ(parser.Parse(first.data(), first.size()), Status::kIncomplete);
  const std::string moved = input;  // same bytes, another address
  ASSERT_EQ(parser.Parse(moved.data(), moved.size()), Status::kComplete);
  EXPECT_EQ(Args(parser, moved.data()), (std::vector<std::string>{"GET", "foo"}));
}

TEST(RequestParser, ReportsTheSizeOfAnAwaitedBulk) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$100\r\nab";
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kIncomplete);
  EXPECT_EQ(parser.expected_size(), 19u + 100u + 2u);
}

TEST(RequestParser, EmptyMultibulkIsSkipped) {
  for (const std::string input : {"*0\r\n", "*-1\r\n"}) {
    RequestParser parser;
    EXPECT_EQ(parser.Parse(input.data(), input.size()), Status::kEmpty);
    EXPECT_EQ(parser.consumed(), input.size());
  }
}

TEST(RequestParser, InlineCommandsSplitAsRedisDoes) {
  const std::string input = "SET k \"a b\\x41\\n\" 'c\\'d'\r\n";
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kComplete);
  EXPECT_TRUE(parser.is_inline());
  EXPECT_EQ(parser.consumed(), input.size());
  EXPECT_EQ(Args(parser, input.data()), (std::vector<std::string>{"SET", "k", "a bA\n", "c'd"}));
}

TEST(RequestParser, InlineWithoutCarriageReturn) {
  const std::string input = "PING\n";
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kComplete);
  EXPECT_EQ(Args(parser, input.data()), (std::vector<std::string>{"PING"}));
}

TEST(RequestParser, BlankInlineLineIsSkipped) {
  const std::string input = "   \r\n";
  RequestParser parser;
  EXPECT_EQ(parser.Parse(input.data(), input.size()), Status::kEmpty);
  EXPECT_EQ(parser.consumed(), input.size());
}

struct BadInput {
  std::string input;
  std::string error;
};

class RequestParserErrors : public testing::TestWithParam<BadInput> {};

TEST_P(RequestParserErrors, AnswersWithRedisText) {
  RequestParser parser;
  ASSERT_EQ(parser.Parse(GetParam().input.data(), GetParam().input.size()), Status::kError);
  EXPECT_EQ(parser.error(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, RequestParserErrors,
    testing::Values(
        BadInput{"*abc\r\n", "Protocol error: invalid multibulk length"},
        BadInput{"*2000000000\r\n", "Protocol error: invalid multibulk length"},
        BadInput{"*1\r\n+x\r\n", "Protocol error: expected '$', got '+'"},
        BadInput{"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
        BadInput{"*1\r\n$2000000000\r\n", "Protocol error: invalid bulk length"},
        BadInput{"*1\r\n$1\r\nabc\r\n", "Protocol error: expected CRLF after bulk string"},
        BadInput{"SET k \"unbalanced\r\n", "Protocol error: unbalanced quotes in request"},
        BadInput{"*1\r\n*1\r\n$1\r\na\r\n", "Protocol error: expected '$', got '*'"}));

TEST(RequestParser, OverlongHeaderLineIsAnErrorNotABuffer) {
  const std::string input = "*" + std::string(70000, '1');
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: too big mbulk count string");
}

TEST(RequestParser, OverlongInlineLineIsAnError) {
  const std::string input(70000, 'a');
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: too big inline request");
}

TEST(RequestParser, RequestLargerThanTheLimitIsRefused) {
  RequestLimits limits;
  limits.max_request_bytes = 1024;
  {
    // One argument longer than the whole limit: Redis's text for a bulk past proto-max-bulk-len.
    RequestParser parser(limits);
    const std::string input = "*2\r\n$3\r\nSET\r\n$2000\r\n";
    ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kError);
    EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
  }
  {
    // Refused on the length line, before any of the 1010 bytes it announces is buffered.
    RequestParser parser(limits);
    const std::string input = "*2\r\n$3\r\nSET\r\n$1010\r\n";
    ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kError);
    EXPECT_EQ(parser.error(), "Protocol error: request is larger than the proxy's limit");
  }
  {
    // Exactly the limit, header and all, is accepted.
    RequestParser parser(limits);
    const std::string input = "*2\r\n$3\r\nSET\r\n$1002\r\n" + std::string(1002, 'v') + "\r\n";
    ASSERT_EQ(input.size(), 1024u);
    ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kComplete);
    EXPECT_EQ(parser.consumed(), 1024u);
  }
}

TEST(RequestParser, TooManyArgumentsIsRefused) {
  RequestLimits limits;
  limits.max_multibulk_length = 10;
  RequestParser parser(limits);
  const std::string input = "*11\r\n";
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid multibulk length");
  std::string ten = "*10\r\n";
  for (int i = 0; i < 10; ++i) ten += "$1\r\nx\r\n";
  RequestParser at_limit(limits);
  ASSERT_EQ(at_limit.Parse(ten.data(), ten.size()), Status::kComplete);
  EXPECT_EQ(at_limit.argc(), 10u);
}

// A random pipeline of requests, fed in random pieces to both our parser and hiredis's reader:
// both must see the same requests, with the same arguments, complete at the same moments.
TEST(RequestParser, AgreesWithHiredisOnRandomFragmentedPipelines) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::string stream;
    std::vector<std::vector<std::string>> sent;
    const int requests = 1 + static_cast<int>(rng() % 20);
    for (int r = 0; r < requests; ++r) {
      std::vector<std::string> args;
      const int argc = 1 + static_cast<int>(rng() % 6);
      stream += "*" + std::to_string(argc) + "\r\n";
      for (int a = 0; a < argc; ++a) {
        std::string arg(rng() % 40, '\0');
        for (char& c : arg) c = static_cast<char>(rng() & 0xff);
        stream += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
        args.push_back(arg);
      }
      sent.push_back(args);
    }

    redisReader* reader = redisReaderCreate();
    RequestParser parser;
    std::string buffer;  // what our parser has not consumed yet
    std::vector<std::vector<std::string>> ours;
    size_t theirs = 0;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t chunk = std::min<size_t>(1 + rng() % 30, stream.size() - pos);
      buffer.append(stream, pos, chunk);
      ASSERT_EQ(redisReaderFeed(reader, stream.data() + pos, chunk), REDIS_OK);
      pos += chunk;
      while (true) {
        const Status status = parser.Parse(buffer.data(), buffer.size());
        ASSERT_NE(status, Status::kError) << parser.error();
        if (status != Status::kComplete) break;
        ours.push_back(Args(parser, buffer.data()));
        buffer.erase(0, parser.consumed());
      }
      void* reply = nullptr;
      while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr) {
        auto* r = static_cast<redisReply*>(reply);
        ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
        ASSERT_LT(theirs, sent.size());
        std::vector<std::string> args;
        for (size_t i = 0; i < r->elements; ++i) {
          args.emplace_back(r->element[i]->str, r->element[i]->len);
        }
        EXPECT_EQ(args, sent[theirs]);
        ++theirs;
        freeReplyObject(reply);
        reply = nullptr;
      }
      ASSERT_EQ(ours.size(), theirs) << "round " << round << " at byte " << pos;
    }
    EXPECT_EQ(ours, sent);
    EXPECT_TRUE(buffer.empty());
    redisReaderFree(reader);
  }
}

TEST(RequestParser, BeforeAuthenticationOnlySmallRequestsPassWithRedisTexts) {
  RequestParser parser(RequestLimits::Unauthenticated());
  const std::string ten = "*10\r\n" + [] {
    std::string args;
    for (int i = 0; i < 10; ++i) args += "$1\r\na\r\n";
    return args;
  }();
  EXPECT_EQ(parser.Parse(ten.data(), ten.size()), RequestParser::Status::kComplete);
  const std::string eleven = "*11\r\n";
  ASSERT_EQ(parser.Parse(eleven.data(), eleven.size()), RequestParser::Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: unauthenticated multibulk length");
  parser.Reset();
  const std::string bulk = "*2\r\n$4\r\nAUTH\r\n$16384\r\n";
  EXPECT_EQ(parser.Parse(bulk.data(), bulk.size()), RequestParser::Status::kIncomplete);
  // Nothing is reserved for the declared length: the caller grows its buffer as bytes arrive.
  EXPECT_EQ(parser.expected_size(), bulk.size() + 16384 + 2);
  parser.Reset();
  const std::string large = "*2\r\n$4\r\nAUTH\r\n$16385\r\n";
  ASSERT_EQ(parser.Parse(large.data(), large.size()), RequestParser::Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: unauthenticated bulk length");
  // Once authenticated, the usual limits.
  parser.Reset();
  parser.set_limits(RequestLimits{});
  EXPECT_EQ(parser.Parse(large.data(), large.size()), RequestParser::Status::kIncomplete);
}

TEST(RequestParser, TrimStorageGivesBackWhatAHugeRequestTook) {
  RequestParser parser;
  std::string request = "*5000\r\n";
  for (int i = 0; i < 5000; ++i) request += "$1\r\nx\r\n";
  ASSERT_EQ(parser.Parse(request.data(), request.size()), RequestParser::Status::kComplete);
  parser.TrimStorage();
  // Still parses, from fresh storage.
  ASSERT_EQ(parser.Parse(request.data(), request.size()), RequestParser::Status::kComplete);
  EXPECT_EQ(parser.argc(), 5000u);
}

}  // namespace
}  // namespace ringproxy::proxy
