#include "controlplane/discovery.h"

#include <algorithm>

#include "base/logger.h"
#include "hashing/server_order.h"
#include "net/uv_handle.h"

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
    CloseTimer(name->timer);
  }
  names_.clear();
  for (auto& [key, srv] : srvs_) {
    srv->dead = true;
    CloseTimer(srv->timer);
  }
  srvs_.clear();
  CloseHandle(&startup_timer_);
  CloseHandle(&report_async_);
}

std::string Discovery::Key(const config::ServerConfig& server) {
  return server.is_unix() ? server.unix_path : server.host + ":" + std::to_string(server.port);
}

void Discovery::SetConfig(const config::Config& config, std::vector<PoolTls> tls) {
  tls_ = std::move(tls);
  tls_.resize(config.pools.size());
  config_ = config;
  std::map<std::string, std::shared_ptr<Srv>> next_srvs;
  for (const config::PoolConfig& pool : config_.pools) {
    if (pool.srv.empty() || next_srvs.count(pool.srv) != 0) continue;
    auto known = srvs_.find(pool.srv);
    if (known != srvs_.end()) {
      next_srvs.emplace(pool.srv, known->second);
      srvs_.erase(known);
      continue;
    }
    auto srv = std::make_shared<Srv>();
    srv->owner = this;
    srv->name = pool.srv;
    srv->timer = new uv_timer_t;  // freed in its close callback
    uv_timer_init(loop_, srv->timer);
    srv->timer->data = srv.get();
    next_srvs.emplace(pool.srv, srv);
    LookupSrv(srv);
  }
  for (auto& [key, gone] : srvs_) {
    gone->dead = true;
    CloseTimer(gone->timer);
  }
  srvs_ = std::move(next_srvs);
  SyncNames();
  const bool first = !have_config_;
  have_config_ = true;
  // A reload waits (briefly) for the names it adds, so keys moving to a new server do not get
  // "Host is down" while its first lookup is on the way.
  PublishWhenResolved(first ? settings_.startup_wait_ms : settings_.change_wait_ms);
}

void Discovery::PublishWhenResolved(uint32_t wait_ms) {
  awaiting_ = true;
  uv_timer_start(
      &startup_timer_,
      [](uv_timer_t* timer) {
        auto* self = static_cast<Discovery*>(timer->data);
        if (!self->awaiting_) return;
        RP_LOG(kLogWarn, "some server names did not resolve in time; publishing without them");
        self->Republish(true);
      },
      wait_ms, 0);
  Republish(false);
}

std::vector<config::ServerConfig> Discovery::ServersOf(const config::PoolConfig& pool) const {
  if (pool.srv.empty()) return pool.servers;
  const auto srv = srvs_.find(pool.srv);
  return srv == srvs_.end() ? std::vector<config::ServerConfig>() : srv->second->members;
}

void Discovery::SyncNames() {
  std::map<std::string, std::shared_ptr<Name>> next;
  for (const config::PoolConfig& pool : config_.pools) {
    for (const config::ServerConfig& server : ServersOf(pool)) {
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
    CloseTimer(gone->timer);
  }
  names_ = std::move(next);
}

void Discovery::CloseTimer(uv_timer_t* timer) { CloseAndDelete(timer); }

void Discovery::LookupSrv(const std::shared_ptr<Srv>& srv) {
  if (srv->in_flight || srv->dead || closed_) return;
  srv->in_flight = true;
  std::weak_ptr<Srv> weak = srv;
  resolver_->ResolveSrv(srv->name, [this, weak](const SrvAnswer& answer) {
    if (auto alive = weak.lock(); alive != nullptr && !alive->dead) OnSrvAnswer(alive, answer);
  });
}

void Discovery::OnSrvAnswer(const std::shared_ptr<Srv>& srv, const SrvAnswer& answer) {
  srv->in_flight = false;
  srv->answered = true;
  uint64_t next_ms = 0;
  bool changed = false;
  if (answer.status == ARES_SUCCESS) {
    stats_->dns_resolutions.Add();
    srv->failures = 0;
    std::vector<config::ServerConfig> members;
    for (const SrvTarget& target : answer.targets) {
      config::ServerConfig member;
      member.host = target.target;
      member.port = target.port;
      member.weight = 1;
      // The pod name (the target's first label) is the ring name: stable across IP changes
      // and record order.
      member.name = target.target.substr(0, target.target.find('.'));
      member.has_explicit_name = true;
      if (std::none_of(members.begin(), members.end(),
                       [&](const auto& m) { return m.name == member.name; })) {
        members.push_back(std::move(member));
      }
    }
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
      return hashing::NutcrackerNameLess(a.name, b.name);
    });
    changed = members != srv->members;
    if (changed) {
      std::string names;
      for (const auto& member : members) names += (names.empty() ? "" : " ") + member.name;
      RP_LOG(kLogNotice, "dns: SRV %s: %zu members: %s", srv->name.c_str(), members.size(),
             names.c_str());
      srv->members = std::move(members);
    }
    next_ms = static_cast<uint64_t>(
                  std::clamp(answer.ttl_seconds, settings_.ttl_min_s, settings_.ttl_max_s)) *
              1000;
  } else {
    // Keep the members we know: a DNS server that does not answer is not an empty service.
    stats_->dns_failures.Add();
    ++srv->failures;
    if (srv->failures == 1) {
      RP_LOG(kLogWarn, "dns: SRV %s: lookup failed: %s", srv->name.c_str(), answer.error.c_str());
    }
    next_ms = RetryDelayMs(srv->failures);
  }
  uv_timer_start(
      srv->timer,
      [](uv_timer_t* timer) {
        auto* fired = static_cast<Srv*>(timer->data);
        Discovery* self = fired->owner;
        auto it = self->srvs_.find(fired->name);
        if (it != self->srvs_.end() && it->second.get() == fired) self->LookupSrv(it->second);
      },
      next_ms, 0);
  if (changed) {
    SyncNames();
    PublishWhenResolved(settings_.change_wait_ms);
  } else if (awaiting_) {
    Republish(false);
  }
}

bool Discovery::AllAnswered() const {
  return std::all_of(names_.begin(), names_.end(),
                     [](const auto& entry) { return entry.second->answered; }) &&
         std::all_of(srvs_.begin(), srvs_.end(),
                     [](const auto& entry) { return entry.second->answered; });
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
      // A first answer is routine; any later change (a new IP, or a name back after NXDOMAIN)
      // is an event worth a notice and a count.
      RP_LOG(first_answer ? kLogInfo : kLogNotice, "dns: %s:%u: %s -> %s", name->host.c_str(),
             name->port, AddressText(name->address).c_str(),
             answer.addresses.front().ToString().c_str());
      if (!first_answer) stats_->dns_address_changes.Add();
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
    Schedule(name, RetryDelayMs(name->failures));
  }
  if (changed || awaiting_) Republish(false);
}

uint64_t Discovery::RetryDelayMs(uint32_t failures) const {
  // Doubling from retry_min_ms, but never beyond retry_max_ms nor beyond the TTL ceiling: a name
  // that comes back must be seen at least as soon as a changed one would be.
  const uint64_t cap =
      std::min<uint64_t>(settings_.retry_max_ms, static_cast<uint64_t>(settings_.ttl_max_s) * 1000);
  const uint64_t delay = static_cast<uint64_t>(settings_.retry_min_ms)
                         << std::min<uint32_t>(failures > 0 ? failures - 1 : 0, 16);
  return std::min(cap, delay);
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
  if (awaiting_ && !force && !AllAnswered()) return;
  awaiting_ = false;
  uv_timer_stop(&startup_timer_);
  publish_(BuildTopology());
}

std::shared_ptr<const Topology> Discovery::BuildTopology() const {
  auto topology = std::make_shared<Topology>();
  for (size_t i = 0; i < config_.pools.size(); ++i) {
    const config::PoolConfig& pool = config_.pools[i];
    config::PoolConfig resolved = pool;
    if (!pool.srv.empty()) resolved.servers = ServersOf(pool);
    std::vector<SocketAddress> addresses;
    addresses.reserve(resolved.servers.size());
    for (const config::ServerConfig& server : resolved.servers) {
      addresses.push_back(names_.at(Key(server))->address);
    }
    hashing::Placement placement = BuildPlacement(resolved, {});
    topology->pools.push_back(
        TopologyPool{std::move(resolved), std::move(addresses), std::move(placement), tls_[i]});
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
