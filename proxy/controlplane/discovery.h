// Discovery: keeps every server name of the configuration resolved, on the control thread, and
// publishes a new Topology whenever an address changes.
//
//   config servers ──> one Name per host:port ──DnsResolver──> address, TTL
//        │                    ▲   re-resolved at TTL expiry (clamped to a floor and a ceiling),
//        │                    │   with backoff after failures, and at once when a worker reports
//        │                    │   a failed connection to it (rate limited)
//        └── Topology(config, addresses) ──publish──> Proxy::Update -> workers
//
// A pool with `srv:` learns its members from SRV records (re-read at their TTL): each target
// becomes a server named by its first label (redis-3.redis-headless... -> "redis-3"), so the same
// pods keep the same ring points whatever order the records come in.
//
// The ring is built from server names, never addresses, so a pod that comes back with a new IP
// moves no key. A name that does not exist (NXDOMAIN while its pod restarts) leaves its server
// unresolved: its keys fail fast with "Host is down" and nothing is remapped. A DNS server that
// does not answer changes nothing: the last address stays in use.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "dataplane/topology.h"
#include "net/dns_resolver.h"
#include "stats/control_stats.h"

namespace ringproxy::proxy {

struct DiscoverySettings {
  uint32_t ttl_min_s = 1;       // never re-resolve a name more often than this
  uint32_t ttl_max_s = 30;      // re-resolve at least this often, whatever the TTL says
  uint32_t retry_min_ms = 200;  // first retry after a failed lookup, doubled up to retry_max_ms
  uint32_t retry_max_ms = 5000;
  uint32_t failure_recheck_ms = 500;  // at most one failure-triggered lookup per name per period
  uint32_t startup_wait_ms = 5000;    // publish the first topology without the slowest names
  uint32_t change_wait_ms = 2000;     // the same after a reload or a change of SRV members
};

class Discovery {
 public:
  using Publish = std::function<void(std::shared_ptr<const Topology>)>;

  // Everything is borrowed and must outlive the Discovery; `publish` runs on the loop's thread.
  Discovery(uv_loop_t* loop, DnsResolver* resolver, const DiscoverySettings& settings,
            ControlStats* stats, Publish publish);
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // Adopts a configuration. Names already known keep their addresses (a reload does not wait for
  // DNS); new ones are looked up. Publishes once every name has an answer or startup_wait_ms
  // passed (first configuration), or at once (later ones).
  // `tls` has one entry per pool of `config` (TlsContext's LoadPoolTls): published with it.
  void SetConfig(const config::Config& config, std::vector<PoolTls> tls);
  // Any thread: a worker's connection to this server failed; look its name up again now.
  void ReportFailure(const std::string& pool, const std::string& server);
  void Close();

 private:
  struct Name {
    Discovery* owner = nullptr;
    std::string key;
    std::string host;
    uint16_t port = 0;
    SocketAddress address;  // length 0: unresolved
    bool answered = false;  // at least one lookup finished
    bool in_flight = false;
    bool dead = false;  // dropped from the configuration
    uint32_t failures = 0;
    uint64_t last_lookup_ms = 0;
    uv_timer_t* timer = nullptr;
  };

  // The members of one `srv:` pool, as its records last said.
  struct Srv {
    Discovery* owner = nullptr;
    std::string name;  // the SRV name
    std::vector<config::ServerConfig> members;
    bool answered = false;
    bool in_flight = false;
    bool dead = false;
    uint32_t failures = 0;
    uv_timer_t* timer = nullptr;
  };

  static std::string Key(const config::ServerConfig& server);
  // The servers of `pool` now: its configured ones, or its SRV members.
  std::vector<config::ServerConfig> ServersOf(const config::PoolConfig& pool) const;
  // Makes names_ hold exactly the names the configuration and SRV members need.
  void SyncNames();
  void Lookup(const std::shared_ptr<Name>& name);
  void LookupSrv(const std::shared_ptr<Srv>& srv);
  void OnSrvAnswer(const std::shared_ptr<Srv>& srv, const SrvAnswer& answer);
  bool AllAnswered() const;
  uint64_t RetryDelayMs(uint32_t failures) const;
  static void CloseTimer(uv_timer_t* timer);
  void OnAnswer(const std::shared_ptr<Name>& name, const DnsAnswer& answer);
  void Schedule(const std::shared_ptr<Name>& name, uint64_t delay_ms);
  // Publishes once every name has an answer, or after `wait_ms` without the slow ones.
  void PublishWhenResolved(uint32_t wait_ms);
  void Republish(bool force);
  std::shared_ptr<const Topology> BuildTopology() const;
  void DrainReports();

  uv_loop_t* loop_;
  DnsResolver* resolver_;
  DiscoverySettings settings_;
  ControlStats* stats_;
  Publish publish_;
  config::Config config_;
  std::vector<PoolTls> tls_;  // parallel to config_.pools
  std::map<std::string, std::shared_ptr<Name>> names_;
  std::map<std::string, std::shared_ptr<Srv>> srvs_;  // by SRV name
  bool have_config_ = false;
  bool awaiting_ = false;  // a publish waits for every name to have an answer
  bool closed_ = false;
  uv_timer_t startup_timer_{};
  uv_async_t report_async_{};
  std::mutex report_mutex_;
  std::vector<std::pair<std::string, std::string>> reports_;  // guarded by report_mutex_
};

}  // namespace ringproxy::proxy
