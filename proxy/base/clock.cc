#include "base/clock.h"

namespace ringproxy::clock {
namespace {

// Static initialisation runs before main: as close to the process's start as the code can see.
const uint64_t kProcessStartNs = MonotonicNs();

}  // namespace

uint64_t ProcessUptimeSeconds() { return (MonotonicNs() - kProcessStartNs) / kNanosPerSecond; }

}  // namespace ringproxy::clock
