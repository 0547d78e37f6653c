#include "observability/metric_info.h"

#include <array>
#include <cassert>

namespace ringproxy::proxy {
namespace {

using enum MetricId;
using enum MetricType;

constexpr std::array<MetricInfo, static_cast<size_t>(MetricId::kCount)> kMetrics = {{
    {kBuildInfo, "ringproxy_build_info", kGauge, "version,workers",
     "Always 1; the labels say which ringproxy runs and with how many worker threads."},
    {kStartTime, "ringproxy_start_time_seconds", kGauge, "",
     "Unix time at which the process started."},

    {kClientConnections, "ringproxy_client_connections", kGauge, "pool",
     "Client connections open now."},
    {kBlockedClients, "ringproxy_blocked_clients", kGauge, "pool",
     "Clients waiting for the reply of a blocking command (BLPOP, XREAD BLOCK ...), each on a "
     "server connection of its own (ringproxy_server_pinned_connections)."},
    {kSubscriptions, "ringproxy_subscriptions", kGauge, "pool",
     "Subscriptions of the clients: channels, patterns and shard channels, each client's own "
     "counted (the servers see one shared connection per worker)."},
    {kClientConnectionsTotal, "ringproxy_client_connections_total", kCounter, "pool",
     "Client connections accepted."},
    {kClientEof, "ringproxy_client_eof_total", kCounter, "pool",
     "Client connections the client closed (nutcracker's client_eof)."},
    {kClientErrors, "ringproxy_client_errors_total", kCounter, "pool",
     "Client connections ended by an error, protocol errors included (nutcracker's "
     "client_err)."},
    {kClientProtocolErrors, "ringproxy_client_protocol_errors_total", kCounter, "pool",
     "Client connections closed after a malformed request (also counted in "
     "ringproxy_client_errors_total)."},
    {kClientRejected, "ringproxy_client_connections_rejected_total", kCounter, "pool",
     "Client connections refused with \"max number of clients reached\" because the pool's "
     "max_clients or the process's --max-clients was reached (not in "
     "ringproxy_client_connections_total)."},
    {kClientIdleTimeouts, "ringproxy_client_idle_timeouts_total", kCounter, "pool",
     "Client connections closed after client_idle_timeout without a request in flight or a "
     "byte received."},
    {kClientOutputLimitCloses, "ringproxy_client_output_limit_closes_total", kCounter, "pool",
     "Client connections closed for not reading their replies: past the hard output limit, or "
     "past the soft one without taking a byte for its seconds (client_output_buffer_limit; also "
     "counted in ringproxy_client_errors_total)."},
    {kClientHandshakeTimeouts, "ringproxy_client_tls_handshake_timeouts_total", kCounter, "pool",
     "Client connections closed because their TLS handshake was not done within "
     "tls.handshake_timeout (also counted in ringproxy_client_errors_total)."},
    {kClientAuthFailures, "ringproxy_client_auth_failures_total", kCounter, "pool",
     "AUTH and HELLO ... AUTH commands refused for a wrong password (or user); a connection is "
     "closed after 10 on it."},
    {kForwardErrors, "ringproxy_forward_errors_total", kCounter, "pool",
     "Requests or fragments that could not be forwarded or lost their server connection "
     "(nutcracker's forward_error)."},
    {kServerEjects, "ringproxy_server_ejects_total", kCounter, "pool",
     "Times a worker ejected a server from the ring (auto_eject_hosts)."},
    {kFragments, "ringproxy_fragments_total", kCounter, "pool",
     "Fragments created by splitting multi-key requests over servers."},
    {kInFlightRequests, "ringproxy_in_flight_requests", kGauge, "pool",
     "Client requests received and not yet answered."},
    {kRequests, "ringproxy_requests_total", kCounter, "pool,command_class",
     "Client requests, by command class."},
    {kRequestDuration, "ringproxy_request_duration_seconds", kHistogram, "pool,command_class",
     "Time from reading a client request to its reply being ready, by command class."},

    {kServerConnections, "ringproxy_server_connections", kGauge, "pool,server",
     "Server connections open now."},
    {kServerRequests, "ringproxy_server_requests_total", kCounter, "pool,server",
     "Requests (and fragments) sent to the server."},
    {kServerRequestBytes, "ringproxy_server_request_bytes_total", kCounter, "pool,server",
     "Bytes of requests sent to the server."},
    {kServerResponses, "ringproxy_server_responses_total", kCounter, "pool,server",
     "Replies received from the server."},
    {kServerResponseBytes, "ringproxy_server_response_bytes_total", kCounter, "pool,server",
     "Bytes of replies received from the server."},
    {kServerErrors, "ringproxy_server_errors_total", kCounter, "pool,server,kind",
     "Server connections lost, by kind: eof (the server closed it), error (a socket error), "
     "timeout (a request timed out), connect_failure (could not connect)."},
    {kServerErrorReplies, "ringproxy_server_error_replies_total", kCounter, "pool,server",
     "Error replies (-ERR and the like) the server itself sent."},
    {kServerPinnedConnections, "ringproxy_server_pinned_connections", kGauge, "pool,server",
     "Server connections pinned to one client each now (a client between WATCH and EXEC, "
     "DISCARD or UNWATCH, or waiting for a blocking command's reply); bounded by "
     "max_pinned_connections."},
    {kServerEjected, "ringproxy_server_ejected", kGauge, "pool,server",
     "Workers on which the server is ejected from the ring now (0: in the ring everywhere)."},
    {kServerInQueue, "ringproxy_server_in_queue_requests", kGauge, "pool,server",
     "Requests queued for the server, not yet written to it."},
    {kServerOutQueue, "ringproxy_server_out_queue_requests", kGauge, "pool,server",
     "Requests written to the server and awaiting its reply."},
    {kServerRequestDuration, "ringproxy_server_request_duration_seconds", kHistogram, "pool,server",
     "Time from queueing a request for the server to its reply."},

    {kDnsResolutions, "ringproxy_dns_resolutions_total", kCounter, "",
     "Server name lookups that answered."},
    {kDnsFailures, "ringproxy_dns_failures_total", kCounter, "",
     "Server name lookups that failed."},
    {kDnsAddressChanges, "ringproxy_dns_address_changes_total", kCounter, "",
     "Times a server's resolved address changed."},
    {kConfigReloads, "ringproxy_config_reloads_total", kCounter, "kind",
     "Configuration reloads, by kind: ok (applied) or rejected (the old configuration stays)."},
}};

constexpr bool IndexedById() {
  for (size_t i = 0; i < kMetrics.size(); ++i) {
    if (static_cast<size_t>(kMetrics[i].id) != i) return false;
  }
  return true;
}
static_assert(IndexedById(), "kMetrics must list every MetricId in enum order");

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    case kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::span<const MetricInfo> AllMetrics() { return kMetrics; }

const MetricInfo& Metric(MetricId id) {
  assert(id != MetricId::kCount);
  return kMetrics[static_cast<size_t>(id)];
}

}  // namespace ringproxy::proxy
