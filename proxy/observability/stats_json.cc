#include "observability/stats_json.h"

#include <cstdio>
#include <utility>

#include "observability/stat_field.h"

namespace ringproxy::proxy {
namespace {

// Pool and server names come from the configuration and may hold any character YAML allows;
// nutcracker writes them raw, which can break the document. Escaping keeps it valid JSON and
// changes nothing for ordinary names.
void AppendString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          out->append(escaped);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendNumber(std::string_view key, int64_t value, std::string* out) {
  AppendString(key, out);
  out->push_back(':');
  out->append(std::to_string(value));
}

void AppendText(std::string_view key, std::string_view value, std::string* out) {
  AppendString(key, out);
  out->push_back(':');
  AppendString(value, out);
}

// `"name": {"field":value, ...` for one pool's or server's fields (the object stays open).
template <typename Stats>
void AppendFields(std::string_view name, std::span<const StatField<Stats>> fields,
                  const std::vector<std::shared_ptr<const Stats>>& workers, std::string* out) {
  AppendString(name, out);
  out->append(": {");
  bool first = true;
  for (const StatField<Stats>& field : fields) {
    if (!first) out->append(", ");
    first = false;
    const int64_t value = field.type == StatType::kTimestamp ? StatsView::Max(workers, field.read)
                                                             : StatsView::Sum(workers, field.read);
    AppendNumber(field.name, value, out);
  }
}

}  // namespace

StatsJson::StatsJson(Identity identity, uint64_t refresh_interval_ms)
    : identity_(std::move(identity)), refresh_interval_ms_(refresh_interval_ms) {}

std::string StatsJson::Document(const std::function<StatsView()>& gather, int64_t now,
                                uint64_t now_ms) {
  if (!have_aggregate_ || now_ms - aggregated_at_ms_ >= refresh_interval_ms_) {
    aggregate_ = Aggregated(gather());
    aggregated_at_ms_ = now_ms;
    have_aggregate_ = true;
  }
  return Assemble(identity_, aggregate_, now);
}

std::string StatsJson::Render(const Identity& identity, const StatsView& view, int64_t now) {
  return Assemble(identity, Aggregated(view), now);
}

StatsJson::Aggregate StatsJson::Aggregated(const StatsView& view) {
  Aggregate aggregate;
  std::string& out = aggregate.pools;
  for (const StatsView::Pool& pool : view.pools()) {
    if (!out.empty()) out.push_back(',');
    AppendFields(pool.name, PoolStatFields(), pool.workers, &out);
    bool first_server = true;
    for (const StatsView::Server& server : pool.servers) {
      out.append(first_server ? ", " : ",");  // nutcracker's separators, byte for byte
      first_server = false;
      AppendFields(server.name, ServerStatFields(), server.workers, &out);
      out.push_back('}');
    }
    out.push_back('}');
    // nutcracker counts every connection it has (listeners and servers too); ringproxy counts
    // client connections, so that curr_connections can never exceed total_connections.
    aggregate.total_connections += StatsView::Sum(pool.workers, [](const PoolStats& s) {
      return static_cast<int64_t>(s.client_connections_total.Get());
    });
    aggregate.curr_connections +=
        StatsView::Sum(pool.workers, [](const PoolStats& s) { return s.client_connections.Get(); });
  }
  return aggregate;
}

std::string StatsJson::Assemble(const Identity& identity, const Aggregate& aggregate, int64_t now) {
  std::string out;
  out.reserve(aggregate.pools.size() + 256);
  out.push_back('{');
  AppendText("service", identity.service, &out);
  out.append(", ");
  AppendText("source", identity.source, &out);
  out.append(", ");
  AppendText("version", identity.version, &out);
  out.append(", ");
  AppendNumber("uptime", now - identity.start_time, &out);
  out.append(", ");
  AppendNumber("timestamp", now, &out);
  out.append(", ");
  AppendNumber("total_connections", aggregate.total_connections, &out);
  out.append(", ");
  AppendNumber("curr_connections", aggregate.curr_connections, &out);
  if (!aggregate.pools.empty()) {
    out.append(", ");
    out.append(aggregate.pools);
  }
  out.append("}\n");
  return out;
}

}  // namespace ringproxy::proxy
