// ControlPlane: the control thread. One libuv loop that owns everything that is not on the
// request path:
//
//   signals ──> drain (SIGTERM/SIGINT), reload + reopen log (SIGHUP), log level (SIGTTIN/TTOU)
//   config file watch ──> reload (a Kubernetes ConfigMap update swaps a `..data` symlink)
//   TLS files polled ──> reload (a renewed certificate in a mounted Secret)
//   reload ──> validate ──> Discovery::SetConfig ──> DNS ──> Topology ──> Proxy::Update ──> workers
//   stats server (metrics, JSON, health) reads Proxy and ControlStats
//
// Workers never wait on it: they receive immutable topologies and keep serving meanwhile.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/pool_config.h"
#include "controlplane/discovery.h"
#include "controlplane/stats_service.h"
#include "dataplane/proxy.h"
#include "net/dns_resolver.h"
#include "stats/control_stats.h"

namespace ringproxy::proxy {

struct ControlSettings {
  std::string config_path;
  ProxySettings proxy;
  std::string workers_reason;  // why proxy.workers is what it is, for the startup log
  DnsOptions dns;
  DiscoverySettings discovery;
  StatsService::Settings stats;  // -s, -a, -i
  bool watch_config = true;
  bool allow_core_dumps = false;  // --allow-core-dumps
};

class ControlPlane {
 public:
  explicit ControlPlane(const ControlSettings& settings);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Starts discovery for `config`, the proxy once the first topology is known, and runs the
  // loop until the proxy has drained. Returns the process exit code.
  int Run(const config::Config& config);

  uv_loop_t* loop() { return &loop_; }
  Proxy& proxy() { return proxy_; }
  ControlStats& stats() { return stats_; }

 private:
  void OnSignal(int signum);
  void OnTopology(std::shared_ptr<const Topology> topology);
  // `force`: rebuild even when the configuration text is unchanged (SIGHUP, a TLS file changed).
  void Reload(const char* why, bool force);
  // Loads the TLS files `config` names and hands both to discovery. False: a file is unusable.
  bool Apply(const config::Config& config, std::string* error);
  // Before TLS private keys are read: no core dump (nor same-user ptrace) may copy them out.
  void ProtectKeyMaterial(const config::Config& config);
  void WatchConfig();
  void CheckTlsFiles();
  void BeginDrain();
  void Shutdown();

  ControlSettings settings_;
  uv_loop_t loop_{};
  ControlStats stats_;
  Proxy proxy_;
  std::unique_ptr<DnsResolver> resolver_;
  std::unique_ptr<Discovery> discovery_;
  std::unique_ptr<StatsService> stats_service_;  // from the proxy's start to the end of its drain
  std::vector<uv_signal_t*> signals_;
  uv_fs_event_t* watcher_ = nullptr;
  uv_timer_t* reload_timer_ = nullptr;
  uv_timer_t* tls_poll_timer_ = nullptr;
  std::vector<std::string> tls_files_;  // of the running configuration
  std::string tls_fingerprint_;         // their state when last loaded
  uv_async_t* drained_ = nullptr;
  std::thread joiner_;
  std::string config_text_;  // what the running configuration was loaded from
  std::string config_name_;  // the file's name in its directory, for the watcher
  // The text of the last rejected reload, until one is applied: seen again, it is not retried.
  std::optional<std::string> rejected_text_;
  bool started_ = false;
  bool draining_ = false;
  int exit_code_ = 0;
};

}  // namespace ringproxy::proxy
