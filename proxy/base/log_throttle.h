// LogThrottle: one log line per interval for an event that a peer can repeat without bound (a
// refused connection, a failed AUTH, a stalled handshake). The first event of a quiet period is
// reported at once; the ones that follow within the interval are only counted, and the count goes
// into the next line: whoever floods the event cannot flood the log, and the operator still
// learns how many there were. Not thread-safe: one owner (a worker, the control thread).
#pragma once

#include <cstdint>

namespace ringproxy::proxy {

class LogThrottle {
 public:
  static constexpr uint64_t kDefaultIntervalMs = 1000;

  explicit LogThrottle(uint64_t interval_ms = kDefaultIntervalMs) : interval_ms_(interval_ms) {}

  // Counts one event at `now_ms` (any monotonic clock in milliseconds). True when a line is due
  // now; `*events` is then the number of events it reports, this one included.
  bool Count(uint64_t now_ms, uint64_t* events);
  // For a periodic check: true when events were counted but not reported and their line is due
  // by `now_ms`, with `*events` their number. Without it, the tail of a burst would wait for the
  // next event to be reported.
  bool Due(uint64_t now_ms, uint64_t* events);
  // Events counted and not yet reported.
  uint64_t pending() const { return unreported_; }
  // When the next line may be written.
  uint64_t next_line_ms() const { return next_line_ms_; }

 private:
  bool Report(uint64_t now_ms, uint64_t* events);

  uint64_t interval_ms_;
  uint64_t unreported_ = 0;
  uint64_t next_line_ms_ = 0;
};

}  // namespace ringproxy::proxy
