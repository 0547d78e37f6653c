// StatsJson: nutcracker's stats document — what `curl host:22222/`, `nc host 22222` and every
// twemproxy exporter read — built from the workers' counters (summed over workers) and the
// topology (pools in configuration order, each pool's servers in nutcracker's server order, keyed
// by name). The bytes follow nutcracker's layout ("key":value pairs separated by ", ", one
// trailing newline) so that even scripts that parse it with regular expressions keep working.
//
// As nutcracker, the counters in a document are an aggregate refreshed at most every
// stats interval (-i); the header (uptime, timestamp) is always current. Not thread-safe: the
// control thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "observability/stats_view.h"

namespace ringproxy::proxy {

class StatsJson {
 public:
  struct Identity {
    std::string service = "ringproxy";  // nutcracker says "nutcracker"
    std::string source;                 // this host's name
    std::string version;
    int64_t start_time = 0;  // unix seconds
  };

  // `refresh_interval_ms`: how old the aggregated counters may grow before a document re-reads
  // them (0: re-read for every document).
  StatsJson(Identity identity, uint64_t refresh_interval_ms);

  // The document at unix time `now` and monotonic time `now_ms`; calls `gather` for a new
  // reading of the counters when the cached one is older than the refresh interval.
  std::string Document(const std::function<StatsView()>& gather, int64_t now, uint64_t now_ms);

  // The document for `view`, without caching.
  static std::string Render(const Identity& identity, const StatsView& view, int64_t now);

 private:
  // What a reading of the counters contributes: the pools' part and the connection totals.
  struct Aggregate {
    std::string pools;  // `"pool": {...},` for each pool
    int64_t total_connections = 0;
    int64_t curr_connections = 0;
  };
  static Aggregate Aggregated(const StatsView& view);
  static std::string Assemble(const Identity& identity, const Aggregate& aggregate, int64_t now);

  Identity identity_;
  uint64_t refresh_interval_ms_;
  bool have_aggregate_ = false;
  uint64_t aggregated_at_ms_ = 0;
  Aggregate aggregate_;
};

}  // namespace ringproxy::proxy
