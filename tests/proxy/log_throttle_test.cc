// LogThrottle: the first event is reported at once, a burst within the interval only counted, and
// its count reported by the next line, whether another event or a periodic check brings it.
#include "base/log_throttle.h"

#include <gtest/gtest.h>

namespace ringproxy::proxy {
namespace {

TEST(LogThrottle, FirstEventIsReportedAtOnce) {
  LogThrottle throttle(1000);
  uint64_t events = 0;
  EXPECT_TRUE(throttle.Count(5000, &events));
  EXPECT_EQ(events, 1u);
  EXPECT_EQ(throttle.pending(), 0u);
}

TEST(LogThrottle, BurstWithinTheIntervalIsCountedIntoTheNextLine) {
  LogThrottle throttle(1000);
  uint64_t events = 0;
  ASSERT_TRUE(throttle.Count(0, &events));
  for (uint64_t now = 1; now < 1000; now += 10) EXPECT_FALSE(throttle.Count(now, &events));
  EXPECT_EQ(throttle.pending(), 100u);
  EXPECT_TRUE(throttle.Count(1000, &events));
  EXPECT_EQ(events, 101u);  // the burst and the event that brought the line
  EXPECT_EQ(throttle.next_line_ms(), 2000u);
}

TEST(LogThrottle, PeriodicCheckReportsTheTailOfABurstOnceItsLineIsDue) {
  LogThrottle throttle(1000);
  uint64_t events = 0;
  ASSERT_TRUE(throttle.Count(0, &events));
  EXPECT_FALSE(throttle.Count(10, &events));
  EXPECT_FALSE(throttle.Count(20, &events));
  EXPECT_FALSE(throttle.Due(999, &events));
  EXPECT_TRUE(throttle.Due(1000, &events));
  EXPECT_EQ(events, 2u);
  EXPECT_FALSE(throttle.Due(5000, &events));  // nothing left to report
}

}  // namespace
}  // namespace ringproxy::proxy
