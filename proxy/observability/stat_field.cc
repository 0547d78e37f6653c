#include "observability/stat_field.h"

#include <array>
#include <cstdio>

#include "observability/metric_info.h"

namespace ringproxy::proxy {
namespace {

using enum StatType;
using PoolField = StatField<PoolStats>;
using ServerField = StatField<ServerStats>;

constexpr int64_t kMicrosPerSecond = 1000000;

int64_t Value(const Counter& counter) { return static_cast<int64_t>(counter.Get()); }
int64_t Value(const Gauge& gauge) { return gauge.Get(); }

// Captureless lambdas: each row says in one place what it reads.
constexpr std::array kPoolFields = {
    PoolField{"client_eof", kCounter, "client connections closed by the client",
              [](const PoolStats& s) { return Value(s.client_eof); }},
    PoolField{"client_err", kCounter,
              "client connections ended by an error (protocol errors included)",
              [](const PoolStats& s) { return Value(s.client_err); }},
    PoolField{"client_connections", kGauge, "client connections open now",
              [](const PoolStats& s) { return Value(s.client_connections); }},
    PoolField{"server_ejects", kCounter, "times a server was ejected from the ring",
              [](const PoolStats& s) { return Value(s.server_ejects); }},
    PoolField{"forward_error", kCounter,
              "requests that could not be forwarded or lost their server connection",
              [](const PoolStats& s) { return Value(s.forward_error); }},
    PoolField{"fragments", kCounter, "fragments made by splitting multi-key requests",
              [](const PoolStats& s) { return Value(s.fragments); }},
};

constexpr std::array kServerFields = {
    ServerField{"server_eof", kCounter, "server connections closed by the server",
                [](const ServerStats& s) { return Value(s.server_eof); }},
    ServerField{"server_err", kCounter, "server connections ended by a socket error",
                [](const ServerStats& s) { return Value(s.server_err); }},
    ServerField{"server_timedout", kCounter,
                "server connections closed because a request timed out",
                [](const ServerStats& s) { return Value(s.server_timedout); }},
    ServerField{"server_connections", kGauge, "server connections open now",
                [](const ServerStats& s) { return Value(s.server_connections); }},
    // nutcracker reports microseconds since the epoch; the workers record seconds.
    ServerField{"server_ejected_at", kTimestamp,
                "when the server was last ejected, in microseconds since the epoch (0: in the "
                "ring)",
                [](const ServerStats& s) { return s.server_ejected_at.Get() * kMicrosPerSecond; }},
    ServerField{"requests", kCounter, "requests sent to the server",
                [](const ServerStats& s) { return Value(s.requests); }},
    ServerField{"request_bytes", kCounter, "bytes of requests sent to the server",
                [](const ServerStats& s) { return Value(s.request_bytes); }},
    ServerField{"responses", kCounter, "replies received from the server",
                [](const ServerStats& s) { return Value(s.responses); }},
    ServerField{"response_bytes", kCounter, "bytes of replies received from the server",
                [](const ServerStats& s) { return Value(s.response_bytes); }},
    ServerField{"in_queue", kGauge, "requests queued, not yet written to the server",
                [](const ServerStats& s) { return Value(s.in_queue); }},
    ServerField{"in_queue_bytes", kGauge, "bytes of requests queued, not yet written",
                [](const ServerStats& s) { return Value(s.in_queue_bytes); }},
    ServerField{"out_queue", kGauge, "requests written, awaiting the server's reply",
                [](const ServerStats& s) { return Value(s.out_queue); }},
    ServerField{"out_queue_bytes", kGauge, "bytes of requests written, awaiting the server's reply",
                [](const ServerStats& s) { return Value(s.out_queue_bytes); }},
};

template <typename Stats>
void AppendFields(std::span<const StatField<Stats>> fields, std::string* out) {
  for (const auto& field : fields) {
    char line[256];
    std::snprintf(line, sizeof(line), "  %-20.*s\"%.*s\"\n", static_cast<int>(field.name.size()),
                  field.name.data(), static_cast<int>(field.description.size()),
                  field.description.data());
    out->append(line);
  }
}

}  // namespace

std::span<const StatField<PoolStats>> PoolStatFields() { return kPoolFields; }
std::span<const StatField<ServerStats>> ServerStatFields() { return kServerFields; }

std::string DescribeStats() {
  std::string out = "pool stats:\n";
  AppendFields(PoolStatFields(), &out);
  out += "\nserver stats:\n";
  AppendFields(ServerStatFields(), &out);
  out += "\nprometheus metrics (GET /metrics):\n";
  for (const MetricInfo& metric : AllMetrics()) {
    out += "  ";
    out += metric.name;
    out += " ";
    out += MetricTypeName(metric.type);
    if (!metric.labels.empty()) {
      out += " {";
      out += metric.labels;
      out += "}";
    }
    out += "\n      ";
    out += metric.help;
    out += "\n";
  }
  return out;
}

}  // namespace ringproxy::proxy
