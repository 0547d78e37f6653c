// The proxy's two clocks. Intervals (timeouts, latencies, throttled logs) are measured on the
// monotonic clock in nanoseconds, the clock libuv's uv_hrtime reads, so a worker's batch clock and
// a libuv timer agree; dates reported to people and to nutcracker's stats (an ejection's time,
// the stats document's timestamp) come from the wall clock in Unix seconds.
#pragma once

#include <time.h>

#include <cstdint>

namespace ringproxy::clock {

inline constexpr uint64_t kNanosPerMilli = 1000000;
inline constexpr uint64_t kNanosPerSecond = 1000000000;

inline uint64_t MonotonicNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * kNanosPerSecond + static_cast<uint64_t>(now.tv_nsec);
}

inline int64_t UnixSeconds() { return static_cast<int64_t>(::time(nullptr)); }

// Seconds since the process started (INFO's uptime): counted from static initialisation.
uint64_t ProcessUptimeSeconds();

}  // namespace ringproxy::clock
