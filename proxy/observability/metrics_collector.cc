#include "observability/metrics_collector.h"

#include <prometheus/text_serializer.h>

#include <array>
#include <limits>
#include <sstream>
#include <utility>

#include "observability/metric_info.h"

namespace ringproxy::proxy {
namespace {

using Labels = std::vector<prometheus::ClientMetric::Label>;
using Histogram = prometheus::ClientMetric::Histogram;

// Divide rather than multiply by 1e-6: the quotient is the double nearest the decimal value, so
// bounds print as le="0.0001", not le="9.999999999999999e-05".
constexpr double kMicrosPerSecond = 1e6;

prometheus::MetricType PrometheusType(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kGauge:
      return prometheus::MetricType::Gauge;
    case MetricType::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

// One family per MetricId, in table order, names and help from the table.
class Families {
 public:
  Families() {
    families_.reserve(AllMetrics().size());
    for (const MetricInfo& info : AllMetrics()) {
      prometheus::MetricFamily family;
      family.name = std::string(info.name);
      family.help = std::string(info.help);
      family.type = PrometheusType(info.type);
      families_.push_back(std::move(family));
    }
  }

  void Add(MetricId id, Labels labels, double value) {
    prometheus::MetricFamily& family = families_[static_cast<size_t>(id)];
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    if (family.type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
  }

  void AddHistogram(MetricId id, Labels labels, Histogram histogram) {
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    metric.histogram = std::move(histogram);
    families_[static_cast<size_t>(id)].metric.push_back(std::move(metric));
  }

  std::vector<prometheus::MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<prometheus::MetricFamily> families_;
};

// The workers' histograms summed and made cumulative, in seconds: one bucket per bound of
// LatencyHistogram plus +Inf, whose count is the sample count (so `_count` and the `+Inf` bucket
// agree by construction even while workers keep observing).
template <typename Stats, typename Get>
Histogram SumHistograms(const std::vector<std::shared_ptr<const Stats>>& workers, Get get) {
  constexpr size_t kBounds = LatencyHistogram::kBoundsUs.size();
  std::array<uint64_t, kBounds + 1> counts{};
  uint64_t sum_us = 0;
  for (const auto& stats : workers) {
    const LatencyHistogram& histogram = get(*stats);
    for (size_t i = 0; i <= kBounds; ++i) counts[i] += histogram.bucket(i);
    sum_us += histogram.sum_us();
  }
  Histogram out;
  out.bucket.reserve(kBounds + 1);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds; ++i) {
    cumulative += counts[i];
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound =
        i < kBounds ? static_cast<double>(LatencyHistogram::kBoundsUs[i]) / kMicrosPerSecond
                    : std::numeric_limits<double>::infinity();
    out.bucket.push_back(bucket);
  }
  out.sample_count = cumulative;
  out.sample_sum = static_cast<double>(sum_us) / kMicrosPerSecond;
  return out;
}

template <typename Read>
double PoolSum(const StatsView::Pool& pool, Read read) {
  return static_cast<double>(StatsView::Sum(pool.workers, read));
}

template <typename Read>
double ServerSum(const StatsView::Server& server, Read read) {
  return static_cast<double>(StatsView::Sum(server.workers, read));
}

int64_t Value(const Counter& counter) { return static_cast<int64_t>(counter.Get()); }
int64_t Value(const Gauge& gauge) { return gauge.Get(); }

void AddPool(const StatsView::Pool& pool, Families* out) {
  using enum MetricId;
  const Labels labels = {{"pool", pool.name}};
  out->Add(kClientConnections, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_connections); }));
  out->Add(kBlockedClients, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.blocked_clients); }));
  out->Add(kSubscriptions, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.subscriptions); }));
  out->Add(kClientConnectionsTotal, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_connections_total); }));
  out->Add(kClientEof, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_eof); }));
  out->Add(kClientErrors, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_err); }));
  out->Add(kClientProtocolErrors, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_protocol_errors); }));
  out->Add(kClientRejected, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_rejected); }));
  out->Add(kClientIdleTimeouts, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_idle_timeouts); }));
  out->Add(kClientOutputLimitCloses, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_output_limit_closes); }));
  out->Add(kClientHandshakeTimeouts, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_handshake_timeouts); }));
  out->Add(kClientAuthFailures, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.client_auth_failures); }));
  out->Add(kForwardErrors, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.forward_error); }));
  out->Add(kServerEjects, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.server_ejects); }));
  out->Add(kFragments, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.fragments); }));
  out->Add(kInFlightRequests, labels,
           PoolSum(pool, [](const PoolStats& s) { return Value(s.in_flight); }));
  for (size_t c = 0; c < static_cast<size_t>(CommandClass::kCount); ++c) {
    const Labels class_labels = {
        {"pool", pool.name},
        {"command_class", std::string(CommandClassName(static_cast<CommandClass>(c)))}};
    out->Add(kRequests, class_labels,
             PoolSum(pool, [c](const PoolStats& s) { return Value(s.requests[c]); }));
    out->AddHistogram(
        kRequestDuration, class_labels,
        SumHistograms(
            pool.workers, [c](const PoolStats& s) -> const auto& { return s.latency[c]; }));
  }
}

void AddServer(const std::string& pool, const StatsView::Server& server, Families* out) {
  using enum MetricId;
  const Labels labels = {{"pool", pool}, {"server", server.name}};
  out->Add(kServerConnections, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.server_connections); }));
  out->Add(kServerRequests, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.requests); }));
  out->Add(kServerRequestBytes, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.request_bytes); }));
  out->Add(kServerResponses, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.responses); }));
  out->Add(kServerResponseBytes, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.response_bytes); }));
  const std::pair<const char*, int64_t (*)(const ServerStats&)> kinds[] = {
      {"eof", [](const ServerStats& s) { return Value(s.server_eof); }},
      {"error", [](const ServerStats& s) { return Value(s.server_err); }},
      {"timeout", [](const ServerStats& s) { return Value(s.server_timedout); }},
      {"connect_failure", [](const ServerStats& s) { return Value(s.connect_failures); }},
  };
  for (const auto& [kind, read] : kinds) {
    out->Add(kServerErrors, {{"pool", pool}, {"server", server.name}, {"kind", kind}},
             ServerSum(server, read));
  }
  out->Add(kServerErrorReplies, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.error_replies); }));
  out->Add(kServerPinnedConnections, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.pinned_connections); }));
  out->Add(kServerEjected, labels, ServerSum(server, [](const ServerStats& s) -> int64_t {
             return s.server_ejected_at.Get() != 0 ? 1 : 0;
           }));
  out->Add(kServerInQueue, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.in_queue); }));
  out->Add(kServerOutQueue, labels,
           ServerSum(server, [](const ServerStats& s) { return Value(s.out_queue); }));
  out->AddHistogram(
      kServerRequestDuration, labels,
      SumHistograms(
          server.workers, [](const ServerStats& s) -> const auto& { return s.latency; }));
}

}  // namespace

MetricsCollector::MetricsCollector(Identity identity, std::function<StatsView()> gather,
                                   const ControlStats* control)
    : identity_(std::move(identity)), gather_(std::move(gather)), control_(control) {}

std::vector<prometheus::MetricFamily> MetricsCollector::Collect() const {
  using enum MetricId;
  Families families;
  families.Add(kBuildInfo,
               {{"version", identity_.version}, {"workers", std::to_string(identity_.workers)}}, 1);
  families.Add(kStartTime, {}, static_cast<double>(identity_.start_time));
  const StatsView view = gather_();
  for (const StatsView::Pool& pool : view.pools()) {
    AddPool(pool, &families);
    for (const StatsView::Server& server : pool.servers) AddServer(pool.name, server, &families);
  }
  families.Add(kDnsResolutions, {}, static_cast<double>(control_->dns_resolutions.Get()));
  families.Add(kDnsFailures, {}, static_cast<double>(control_->dns_failures.Get()));
  families.Add(kDnsAddressChanges, {}, static_cast<double>(control_->dns_address_changes.Get()));
  families.Add(kConfigReloads, {{"kind", "ok"}},
               static_cast<double>(control_->config_reloads_ok.Get()));
  families.Add(kConfigReloads, {{"kind", "rejected"}},
               static_cast<double>(control_->config_reloads_rejected.Get()));
  return families.Take();
}

std::string MetricsCollector::Text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect());
  return out.str();
}

}  // namespace ringproxy::proxy
