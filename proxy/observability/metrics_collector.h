// MetricsCollector: the Prometheus view of ringproxy, computed at scrape time. Collect() reads
// every worker's counters (through a StatsView) and sums them; nothing is aggregated between
// scrapes and the workers never wait for it (their counters are single-writer atomics).
//
// It is a prometheus::Collectable so that prometheus-cpp's TextSerializer writes the exposition
// format (escaping, +Inf, histogram suffixes). prometheus-cpp's own HTTP Exposer (civetweb) is not
// used: the stats port must also answer nutcracker's raw-TCP readers, which send no request at
// all, and civetweb cannot tell those apart. StatsServer serves Text() instead.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "observability/stats_view.h"
#include "stats/control_stats.h"

namespace ringproxy::proxy {

class MetricsCollector : public prometheus::Collectable {
 public:
  struct Identity {
    std::string version;
    int workers = 0;
    int64_t start_time = 0;  // unix seconds
  };

  // `gather` returns a fresh reading of the workers' counters over the current topology; it is
  // called once per Collect(), on the caller's thread. `control` is borrowed and must outlive
  // the collector.
  MetricsCollector(Identity identity, std::function<StatsView()> gather,
                   const ControlStats* control);

  std::vector<prometheus::MetricFamily> Collect() const override;

  // Collect() in the Prometheus text exposition format 0.0.4.
  std::string Text() const;

 private:
  Identity identity_;
  std::function<StatsView()> gather_;
  const ControlStats* control_;
};

}  // namespace ringproxy::proxy
