#include "net/dns_answer_ttl.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/proxy/dns_test_message.h"

namespace ringproxy::proxy {
namespace {

using testing::BuildResponse;
using testing::kTypeSrv;
using testing::SrvRecord;

constexpr char kName[] = "_redis._tcp.redis-headless.default.svc.cluster.local";

std::optional<uint32_t> Ttl(const std::vector<uint8_t>& message) {
  return MinimumAnswerTtl(message.data(), message.size());
}

TEST(MinimumAnswerTtl, SingleRecordGivesItsTtl) {
  const auto message =
      BuildResponse(7, kName, kTypeSrv, 0, {SrvRecord(kName, 0, 50, 6379, "redis-0.x", 30)});
  EXPECT_EQ(Ttl(message), 30U);
}

TEST(MinimumAnswerTtl, SmallestTtlOfAllRecordsWins) {
  const auto message = BuildResponse(7, kName, kTypeSrv, 0,
                                     {SrvRecord(kName, 0, 50, 6379, "redis-0.x", 300),
                                      SrvRecord(kName, 0, 50, 6380, "redis-1.x", 12),
                                      SrvRecord(kName, 1, 10, 6381, "redis-2.x", 45)});
  EXPECT_EQ(Ttl(message), 12U);
}

TEST(MinimumAnswerTtl, CnameInTheChainCounts) {
  const auto message = BuildResponse(
      7, "alias.test", kTypeSrv, 0,
      {testing::CnameRecord("alias.test", kName, 4), SrvRecord(kName, 0, 1, 6379, "r.x", 60)});
  EXPECT_EQ(Ttl(message), 4U);
}

TEST(MinimumAnswerTtl, TtlWithTopBitSetCountsAsZero) {
  const auto message = BuildResponse(
      7, kName, kTypeSrv, 0,
      {SrvRecord(kName, 0, 1, 6379, "r.x", 0x80000005U), SrvRecord(kName, 0, 1, 6380, "s.x", 60)});
  EXPECT_EQ(Ttl(message), 0U);
}

TEST(MinimumAnswerTtl, LargestValidTtlIsKept) {
  const auto message =
      BuildResponse(7, kName, kTypeSrv, 0, {SrvRecord(kName, 0, 1, 6379, "r.x", 0x7FFFFFFFU)});
  EXPECT_EQ(Ttl(message), 0x7FFFFFFFU);
}

TEST(MinimumAnswerTtl, CompressedOwnerNamesAreSkipped) {
  // As servers send it: each answer's owner name is a pointer to the question name (offset 12).
  std::vector<uint8_t> message = {0x00, 0x07, 0x81, 0x80, 0x00, 0x01,
                                  0x00, 0x02, 0x00, 0x00, 0x00, 0x00};
  const std::vector<uint8_t> qname = testing::EncodeName("_r._tcp.svc");
  message.insert(message.end(), qname.begin(), qname.end());
  message.insert(message.end(), {0x00, 0x21, 0x00, 0x01});
  for (const uint32_t ttl : {90U, 25U}) {
    message.insert(message.end(), {0xC0, 0x0C, 0x00, 0x21, 0x00, 0x01});
    testing::PutU32(&message, ttl);
    // Data length 10: priority, weight, port 6379, target "r" + a pointer to the question's "svc".
    message.insert(message.end(),
                   {0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x18, 0xEB, 0x01, 'r', 0xC0, 0x14});
  }
  EXPECT_EQ(Ttl(message), 25U);
}

TEST(MinimumAnswerTtl, EmptyAnswerSectionHasNoTtl) {
  const auto message = BuildResponse(7, kName, kTypeSrv, testing::kRcodeNxdomain, {});
  EXPECT_EQ(Ttl(message), std::nullopt);
}

TEST(MinimumAnswerTtl, TruncatedMessageIsRejected) {
  const auto message =
      BuildResponse(7, kName, kTypeSrv, 0, {SrvRecord(kName, 0, 50, 6379, "redis-0.x", 30)});
  // Every proper prefix lacks part of the record (or of the header or question).
  for (size_t length = 0; length < message.size(); ++length) {
    EXPECT_EQ(MinimumAnswerTtl(message.data(), length), std::nullopt) << "length " << length;
  }
}

TEST(MinimumAnswerTtl, ReservedLabelTypeIsRejected) {
  auto message =
      BuildResponse(7, kName, kTypeSrv, 0, {SrvRecord(kName, 0, 50, 6379, "redis-0.x", 30)});
  message[12] = 0x40;  // first label of the question: a reserved (EDNS0 extended) label type
  EXPECT_EQ(Ttl(message), std::nullopt);
}

TEST(MinimumAnswerTtl, NullMessageIsRejected) {
  EXPECT_EQ(MinimumAnswerTtl(nullptr, 0), std::nullopt);
}

}  // namespace
}  // namespace ringproxy::proxy
