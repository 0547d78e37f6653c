#include "hashing/distribution.h"

#include <gtest/gtest.h>

namespace ringproxy::hashing {
namespace {

TEST(Distribution, ParsesNutcrackerNames) {
  EXPECT_EQ(ParseDistribution("ketama"), Distribution::kKetama);
  EXPECT_EQ(ParseDistribution("modula"), Distribution::kModula);
  EXPECT_EQ(ParseDistribution("random"), Distribution::kRandom);
  for (const Distribution d :
       {Distribution::kKetama, Distribution::kModula, Distribution::kRandom}) {
    EXPECT_EQ(ParseDistribution(DistributionName(d)), d);
  }
}

TEST(Distribution, RejectsUnknownOrMiscasedNames) {
  EXPECT_FALSE(ParseDistribution("").has_value());
  EXPECT_FALSE(ParseDistribution("Ketama").has_value());
  EXPECT_FALSE(ParseDistribution("consistent").has_value());
}

}  // namespace
}  // namespace ringproxy::hashing
