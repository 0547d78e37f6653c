// HttpRequestParser: request heads fed in every split, the limits (414, 431), non-HTTP input
// told apart at its first wrong byte, and no crash on random input.
#include "observability/http_request_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringproxy::proxy {
namespace {

using Status = HttpRequestParser::Status;

TEST(HttpRequestParser, ParsesARequestInOnePiece) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.Feed("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
            Status::kComplete);
  EXPECT_EQ(parser.method(), "GET");
  EXPECT_EQ(parser.path(), "/metrics");
  EXPECT_EQ(parser.version_minor(), 1);
}

TEST(HttpRequestParser, EverySplitPointGivesTheSameRequest) {
  const std::string input = "HEAD /stats?x=1 HTTP/1.0\r\nUser-Agent: curl/7.88\r\n\r\n";
  for (size_t split = 0; split <= input.size(); ++split) {
    HttpRequestParser parser;
    const Status first = parser.Feed(std::string_view(input).substr(0, split));
    if (split < input.size()) {
      ASSERT_EQ(first, Status::kIncomplete) << "split at " << split;
    }
    ASSERT_EQ(parser.Feed(std::string_view(input).substr(split)), Status::kComplete)
        << "split at " << split;
    EXPECT_EQ(parser.method(), "HEAD");
    EXPECT_EQ(parser.path(), "/stats");
    EXPECT_EQ(parser.version_minor(), 0);
  }
}

TEST(HttpRequestParser, ByteByByteGivesTheSameRequest) {
  const std::string input = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:22222\r\n\r\n";
  HttpRequestParser parser;
  for (size_t i = 0; i + 1 < input.size(); ++i) {
    ASSERT_EQ(parser.Feed(input.substr(i, 1)), Status::kIncomplete) << "byte " << i;
  }
  ASSERT_EQ(parser.Feed(input.substr(input.size() - 1)), Status::kComplete);
  EXPECT_EQ(parser.path(), "/healthz");
}

TEST(HttpRequestParser, ALongRequestLineTrickledByteByByteIsJudgedAsItArrives) {
  HttpRequestParser parser;
  for (const char c : "GET /" + std::string(8000, 'a')) {
    ASSERT_EQ(parser.Feed(std::string(1, c)), Status::kIncomplete);
  }
  EXPECT_EQ(parser.Feed(" HTTP/1.1\r\n\r\n"), Status::kComplete);
  EXPECT_EQ(parser.path().size(), 8001u);
  HttpRequestParser broken;
  for (const char c : "GET /" + std::string(4000, 'a')) {
    ASSERT_EQ(broken.Feed(std::string(1, c)), Status::kIncomplete);
  }
  EXPECT_EQ(broken.Feed("\x01"), Status::kNotHttp);  // the first wrong byte, however late
}

TEST(HttpRequestParser, AbsoluteFormTargetGivesItsPath) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.Feed("GET http://proxy:22222/metrics?name[]=x HTTP/1.1\r\n\r\n"),
            Status::kComplete);
  EXPECT_EQ(parser.path(), "/metrics");
  HttpRequestParser bare;
  ASSERT_EQ(bare.Feed("GET HTTP://proxy:22222 HTTP/1.1\r\n\r\n"), Status::kComplete);
  EXPECT_EQ(bare.path(), "/");
}

TEST(HttpRequestParser, LeadingEmptyLinesAndBareLfAreAccepted) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed("\r\n\n"), Status::kIncomplete);
  EXPECT_TRUE(parser.blank_so_far());
  ASSERT_EQ(parser.Feed("GET / HTTP/1.1\nHost: a\n\n"), Status::kComplete);
  EXPECT_FALSE(parser.blank_so_far());
  EXPECT_EQ(parser.path(), "/");
}

TEST(HttpRequestParser, TlsHelloIsNotHttpFromItsFirstByte) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed(std::string("\x16\x03\x01", 3)), Status::kNotHttp);
  EXPECT_FALSE(parser.have_request_line());
}

TEST(HttpRequestParser, NutcrackerStyleCommandLineIsNotHttp) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed("stats"), Status::kIncomplete);  // could still be a method
  EXPECT_EQ(parser.Feed("\r\n"), Status::kNotHttp);
  HttpRequestParser bare_lf;
  EXPECT_EQ(bare_lf.Feed("stats\n"), Status::kNotHttp);
}

TEST(HttpRequestParser, LinesThatAreNoRequestLineAreNotHttp) {
  for (const std::string& input : std::vector<std::string>{
           "GET\r\n", "GET /\r\n", " GET / HTTP/1.1\r\n", "GET  / HTTP/1.1\r\n",
           "GET / HTTP/1.1 \r\n", "GET / HTTX/1.1\r\n", "GET / HTTP/1.1x\r\n", "GET / HTTP/1\r\n",
           "GET /\x01 HTTP/1.1\r\n", "G(T / HTTP/1.1\r\n", "GET / HTTP/1.1\rX",
           std::string(33, 'A') + " / HTTP/1.1\r\n", "hello world\n"}) {
    HttpRequestParser parser;
    EXPECT_EQ(parser.Feed(input), Status::kNotHttp) << input;
    EXPECT_FALSE(parser.error_reason().empty()) << input;
  }
}

TEST(HttpRequestParser, LongGarbageIsNotHttpRatherThanTooLong) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed(std::string(3 * HttpRequestParser::kMaxHeadBytes, 'x')), Status::kNotHttp);
}

TEST(HttpRequestParser, RequestLineWithABadTargetIs400) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed("GET metrics HTTP/1.1\r\n"), Status::kError);
  EXPECT_EQ(parser.error_status(), 400);
}

TEST(HttpRequestParser, MalformedHeadersAreRefused) {
  for (const std::string& header : std::vector<std::string>{
           "Host : x\r\n", " folded\r\n", "\tfolded\r\n", "NoColon\r\n", ": empty name\r\n",
           "Bad\x01Name: x\r\n", std::string("X: a\x01") + "b\r\n"}) {
    HttpRequestParser parser;
    EXPECT_EQ(parser.Feed("GET / HTTP/1.1\r\n" + header + "\r\n"), Status::kError) << header;
    EXPECT_EQ(parser.error_status(), 400) << header;
  }
}

TEST(HttpRequestParser, HttpTwoGets505) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Status::kError);
  EXPECT_EQ(parser.error_status(), 505);
}

TEST(HttpRequestParser, OverlongRequestLineGets414) {
  HttpRequestParser parser;
  const std::string line = "GET /" + std::string(HttpRequestParser::kMaxHeadBytes, 'a');
  EXPECT_EQ(parser.Feed(line), Status::kError);
  EXPECT_EQ(parser.error_status(), 414);
}

TEST(HttpRequestParser, OverlongHeadGets431) {
  HttpRequestParser parser;
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() <= HttpRequestParser::kMaxHeadBytes) head += "X-Filler: 0123456789\r\n";
  EXPECT_EQ(parser.Feed(head), Status::kError);
  EXPECT_EQ(parser.error_status(), 431);
}

TEST(HttpRequestParser, HeadOfExactlyTheLimitIsAccepted) {
  std::string head = "GET / HTTP/1.1\r\nX: ";
  head += std::string(HttpRequestParser::kMaxHeadBytes - head.size() - 4, 'v');
  head += "\r\n\r\n";
  ASSERT_EQ(head.size(), HttpRequestParser::kMaxHeadBytes);
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed(head), Status::kComplete);
}

TEST(HttpRequestParser, InputAfterTheHeadIsIgnored) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.Feed("GET /readyz HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n"), Status::kComplete);
  EXPECT_EQ(parser.Feed("\x16 garbage"), Status::kComplete);
  EXPECT_EQ(parser.path(), "/readyz");
}

TEST(HttpRequestParser, RandomInputNeverCrashesAndEndsWithAKnownStatus) {
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 200);
  const std::string alphabet = "GET /metrics HTTP/1.1\r\n:abc ";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int round = 0; round < 20000; ++round) {
    HttpRequestParser parser;
    std::string input = round % 2 == 0 ? "GET / HTTP/1.1\r\n" : "";
    const size_t n = length(random);
    for (size_t i = 0; i < n; ++i) {
      input.push_back(round % 3 == 0 ? static_cast<char>(byte(random)) : alphabet[pick(random)]);
    }
    const Status status = parser.Feed(input);
    if (status == Status::kError) {
      EXPECT_TRUE(parser.error_status() == 400 || parser.error_status() == 505) << input;
    }
  }
}

}  // namespace
}  // namespace ringproxy::proxy
