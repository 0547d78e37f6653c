// MetricInfo: every Prometheus metric ringproxy exports, declared once. The collector
// (metrics_collector.h) takes names, types and help texts from here, `ringproxy -D` prints the
// table, and a unit test checks that README.md documents each row.
//
// Labels are bounded by construction: pool and server names come from the configuration,
// command_class from CommandClass, kind from fixed lists. Never a key, never a client address.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ringproxy::proxy {

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };
std::string_view MetricTypeName(MetricType type);

enum class MetricId : uint8_t {
  kBuildInfo,
  kStartTime,
  // per pool
  kClientConnections,
  kBlockedClients,
  kSubscriptions,
  kClientConnectionsTotal,
  kClientEof,
  kClientErrors,
  kClientProtocolErrors,
  kClientRejected,
  kClientIdleTimeouts,
  kClientOutputLimitCloses,
  kClientHandshakeTimeouts,
  kClientAuthFailures,
  kForwardErrors,
  kServerEjects,
  kFragments,
  kInFlightRequests,
  kRequests,
  kRequestDuration,
  // per server
  kServerConnections,
  kServerRequests,
  kServerRequestBytes,
  kServerResponses,
  kServerResponseBytes,
  kServerErrors,
  kServerErrorReplies,
  kServerPinnedConnections,
  kServerEjected,
  kServerInQueue,
  kServerOutQueue,
  kServerRequestDuration,
  // control thread
  kDnsResolutions,
  kDnsFailures,
  kDnsAddressChanges,
  kConfigReloads,
  kCount,
};

struct MetricInfo {
  MetricId id;
  std::string_view name;
  MetricType type;
  std::string_view labels;  // comma-separated label names, as documented; "" for none
  std::string_view help;
};

// Indexed by MetricId.
std::span<const MetricInfo> AllMetrics();
const MetricInfo& Metric(MetricId id);

}  // namespace ringproxy::proxy
