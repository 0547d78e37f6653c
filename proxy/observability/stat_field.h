// StatField: the fields of the twemproxy-compatible stats JSON document, declared once. The JSON
// renderer (stats_json.h) writes exactly these, in this order, and `ringproxy -D` prints them.
// They are nutcracker's fields with nutcracker's names and meanings and nothing more: consumers
// written for nutcracker (exporters that take every object inside a pool for a server, scripts
// that sum every number) keep working. ringproxy's other statistics are in /metrics only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "stats/stats.h"

namespace ringproxy::proxy {

// How per-worker values combine into the process's value.
enum class StatType : uint8_t {
  kCounter,    // summed over workers; only grows
  kGauge,      // summed over workers; goes up and down
  kTimestamp,  // the latest over workers (0: never set)
};

// `Stats` is PoolStats or ServerStats.
template <typename Stats>
struct StatField {
  std::string_view name;
  StatType type;
  std::string_view description;
  int64_t (*read)(const Stats& stats);  // one worker's value
};

// In nutcracker's document order.
std::span<const StatField<PoolStats>> PoolStatFields();
std::span<const StatField<ServerStats>> ServerStatFields();

// The `-D/--describe-stats` text: every JSON field and every Prometheus metric with its meaning.
std::string DescribeStats();

}  // namespace ringproxy::proxy
