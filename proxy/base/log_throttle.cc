#include "base/log_throttle.h"

namespace ringproxy::proxy {

bool LogThrottle::Count(uint64_t now_ms, uint64_t* events) {
  ++unreported_;
  return Report(now_ms, events);
}

bool LogThrottle::Due(uint64_t now_ms, uint64_t* events) {
  return unreported_ != 0 && Report(now_ms, events);
}

bool LogThrottle::Report(uint64_t now_ms, uint64_t* events) {
  if (now_ms < next_line_ms_) return false;
  *events = unreported_;
  unreported_ = 0;
  next_line_ms_ = now_ms + interval_ms_;
  return true;
}

}  // namespace ringproxy::proxy
