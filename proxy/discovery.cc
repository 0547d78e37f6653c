#include "proxy/discovery.h"

#include <algorithm>

#include "proxy/logger.h"

namespace ringproxy::proxy {
namespace {

std::string AddressText(const SocketAddress& address) {
  return address.length == 0 ? "(unresolved)" : address.ToString();
}

}  // namespace

Discovery::Discovery(uv_loop_t* loop, DnsResolver* resolver, const DiscoverySettings& settings,
                     ControlStats* stats, Publish publish)
    : loop_(loop),
      resolver_(resolver),
      settings_(settings),
      stats_(stats),
      publish_(std::move(publish)) {
  uv_timer_init(loop_, &startup_timer_);
  startup_timer_.data = this;
  uv_async_init(loop_, &report_async_,
                [](uv_async_t* async) { static_cast<Discovery*>(async->data)->DrainReports(); });
  report_async_.data = this;
}

Discovery::~Discovery() { Close(); }

void Discovery::Close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [key, name] : names_) {
    name->dead = true;
    uv_close(reinterpret_cast<uv_handle_t*>(name->timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  }
  names_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&startup_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&report_async_), nullptr);
}

std::string Discovery::Key(const config::ServerConfig& server) {
  return server.is_unix() ? server.unix_path : server.host + ":" + std::to_string(server.port);
}

void Discovery::SetConfig(const config::Config& config) {
  config_ = config;
  std::map<std::string, std::shared_ptr<Name>> next;
  for (const config::PoolConfig& pool : config_.pools) {
    for (const config::ServerConfig& server : pool.servers) {
      const std::string key = Key(server);
      if (next.count(key) != 0) continue;
      auto known = names_.find(key);
      if (known != names_.end()) {
        next.emplace(key, known->second);
        names_.erase(known);
        continue;
      }
      auto name = std::make_shared<Name>();
      name->owner = this;
      name->key = key;
      name->host = server.host;
      name->port = server.port;
      name->timer = new uv_timer_t;  // freed in its close callback
      uv_timer_init(loop_, name->timer);
      if (server.is_unix()) {
        // A unix socket path needs no lookup.
        std::string error;
        ResolveAddress("", 0, server.unix_path, &name->address, &error);
        name->answered = true;
      }
      next.emplace(key, name);
      if (!name->answered) Lookup(name);
    }
  }
  for (auto& [key, gone] : names_) {
    gone->dead = true;
    uv_close(reinterpret_cast<uv_handle_t*>(gone->timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  }
  names_ = std::move(next);
  const bool first = !have_config_;
  have_config_ = true;
  if (first) {
    uv_timer_start(
        &startup_timer_,
        [](uv_timer_t* timer) {
          auto* self = static_cast<Discovery*>(timer->data);
          if (!self->published_) {
            RP_LOG(kLogWarn, "some server names did not resolve in %u ms; starting without them",
                   self->settings_.startup_wait_ms);
            self->Republish(true);
          }
        },
        settings_.startup_wait_ms, 0);
    Republish(false);
  } else {
    Republish(true);
  }
}

void Discovery::Lookup(const std::shared_ptr<Name>& name) {
  if (name->in_flight || name->dead || closed_) return;
  name->in_flight = true;
  name->last_lookup_ms = uv_now(loop_);
  std::weak_ptr<Name> weak = name;
  resolver_->Resolve(name->host, name->port, [this, weak](const DnsAnswer& answer) {
    if (auto alive = weak.lock(); alive != nullptr && !alive->dead) OnAnswer(alive, answer);
  });
}

void Discovery::OnAnswer(const std::shared_ptr<Name>& name, const DnsAnswer& answer) {
  name->in_flight = false;
  const bool first_answer = !name->answered;
  name->answered = true;
  bool changed = false;
  if (answer.status == ARES_SUCCESS && !answer.addresses.empty()) {
    stats_->dns_resolutions.Add();
    name->failures = 0;
    // Keep the address in use while the name still has it: a name with several addresses must
    // not flap between them.
    const bool still_there = std::find(answer.addresses.begin(), answer.addresses.end(),
                                       name->address) != answer.addresses.end();
    if (!still_there) {
      // A first answer is routine; a change of address is an event worth a notice.
      RP_LOG(name->address.length != 0 ? kLogNotice : kLogInfo, "dns: %s:%u: %s -> %s",
             name->host.c_str(), name->port, AddressText(name->address).c_str(),
             answer.addresses.front().ToString().c_str());
      if (name->address.length != 0) stats_->dns_address_changes.Add();
      name->address = answer.addresses.front();
      changed = true;
    }
    if (answer.ttl_seconds != kDnsTtlInfinite) {
      const uint32_t ttl = std::clamp(answer.ttl_seconds, settings_.ttl_min_s, settings_.ttl_max_s);
      Schedule(name, static_cast<uint64_t>(ttl) * 1000);
    }
  } else {
    stats_->dns_failures.Add();
    ++name->failures;
    const bool gone = answer.status == ARES_ENOTFOUND || answer.status == ARES_ENODATA;
    if (gone && name->address.length != 0) {
      // The name no longer exists (its pod is being rescheduled): fail its keys fast rather than
      // keep sending to an address that now belongs to nobody, or to somebody else.
      RP_LOG(kLogWarn, "dns: %s:%u: %s -> (unresolved): %s", name->host.c_str(), name->port,
             AddressText(name->address).c_str(), answer.error.c_str());
      name->address = SocketAddress{};
      stats_->dns_address_changes.Add();
      changed = true;
    } else if (first_answer || name->failures == 1) {
      RP_LOG(kLogWarn, "dns: %s: lookup failed: %s", name->host.c_str(), answer.error.c_str());
    }
    const uint64_t backoff = std::min<uint64_t>(settings_.retry_max_ms,
                                                static_cast<uint64_t>(settings_.retry_min_ms)
                                                    << std::min<uint32_t>(name->failures - 1, 16));
    Schedule(name, backoff);
  }
  if (changed || (first_answer && !published_)) Republish(false);
}

void Discovery::Schedule(const std::shared_ptr<Name>& name, uint64_t delay_ms) {
  // The timer is closed when its Name leaves names_, so a timer that fires always finds its Name
  // still there.
  name->timer->data = name.get();
  uv_timer_start(
      name->timer,
      [](uv_timer_t* timer) {
        auto* fired = static_cast<Name*>(timer->data);
        Discovery* self = fired->owner;
        auto it = self->names_.find(fired->key);
        if (it != self->names_.end() && it->second.get() == fired) self->Lookup(it->second);
      },
      delay_ms, 0);
}

void Discovery::Republish(bool force) {
  if (closed_ || !have_config_) return;
  if (!published_ && !force) {
    const bool all = std::all_of(names_.begin(), names_.end(),
                                 [](const auto& entry) { return entry.second->answered; });
    if (!all) return;
  }
  published_ = true;
  publish_(BuildTopology());
}

std::shared_ptr<const Topology> Discovery::BuildTopology() const {
  auto topology = std::make_shared<Topology>();
  for (const config::PoolConfig& pool : config_.pools) {
    std::vector<SocketAddress> addresses;
    addresses.reserve(pool.servers.size());
    for (const config::ServerConfig& server : pool.servers) {
      addresses.push_back(names_.at(Key(server))->address);
    }
    topology->pools.push_back(TopologyPool{pool, std::move(addresses), BuildPlacement(pool, {})});
  }
  return topology;
}

void Discovery::ReportFailure(const std::string& pool, const std::string& server) {
  {
    std::lock_guard lock(report_mutex_);
    if (reports_.size() < 1024) reports_.emplace_back(pool, server);
  }
  uv_async_send(&report_async_);
}

void Discovery::DrainReports() {
  std::vector<std::pair<std::string, std::string>> reports;
  {
    std::lock_guard lock(report_mutex_);
    reports.swap(reports_);
  }
  const uint64_t now = uv_now(loop_);
  for (const auto& [pool_name, server_name] : reports) {
    for (const config::PoolConfig& pool : config_.pools) {
      if (pool.name != pool_name) continue;
      for (const config::ServerConfig& server : pool.servers) {
        if (server.name != server_name || server.is_unix()) continue;
        auto it = names_.find(Key(server));
        if (it == names_.end()) continue;
        const std::shared_ptr<Name>& name = it->second;
        if (now - name->last_lookup_ms >= settings_.failure_recheck_ms) Lookup(name);
      }
    }
  }
}

}  // namespace ringproxy::proxy
