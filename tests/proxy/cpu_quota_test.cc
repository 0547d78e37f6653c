#include "process/cpu_quota.h"

#include <gtest/gtest.h>

namespace ringproxy::proxy {
namespace {

TEST(CpuQuota, NoQuotaWhenMax) { EXPECT_FALSE(ParseCpuMax("max 100000\n").has_value()); }

TEST(CpuQuota, WholeCpus) { EXPECT_EQ(ParseCpuMax("200000 100000\n"), 2); }

TEST(CpuQuota, FractionsRoundUp) { EXPECT_EQ(ParseCpuMax("150000 100000"), 2); }

TEST(CpuQuota, SmallQuotaIsOneCpu) { EXPECT_EQ(ParseCpuMax("10000 100000"), 1); }

TEST(CpuQuota, MalformedTextIsNoQuota) {
  EXPECT_FALSE(ParseCpuMax("").has_value());
  EXPECT_FALSE(ParseCpuMax("abc def").has_value());
  EXPECT_FALSE(ParseCpuMax("100000").has_value());
}

TEST(CpuQuota, AQuotaLargerThanAnyCpuCountIsCappedNotWrapped) {
  // Rounding up must not overflow: the largest quota is as many CPUs as an int holds.
  EXPECT_EQ(ParseCpuMax("9223372036854775807 100000"), 2147483647);
  EXPECT_EQ(ParseCpuMax("9223372036854775807 9223372036854775807"), 1);
  EXPECT_FALSE(ParseCpuMax("9223372036854775808 100000").has_value());
}

TEST(CpuQuota, DefaultIsAtLeastOne) { EXPECT_GE(DefaultWorkerCount(), 1); }

}  // namespace
}  // namespace ringproxy::proxy
