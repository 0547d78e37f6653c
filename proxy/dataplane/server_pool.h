// ServerPool: one configured pool as one worker sees it — its servers (with their connections)
// and the placement that maps keys to them. The placement is the topology's until a server is
// ejected (auto_eject_hosts); then this worker routes over a placement of the live servers only.
//
// A new topology is adopted between requests (Reconcile): servers are matched by name, a server
// whose address changed gets new connections while the old ones finish what they carry, a
// removed server finishes its in-flight requests and goes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base/log_throttle.h"
#include "dataplane/auth_failures.h"
#include "dataplane/flow_control.h"
#include "dataplane/info_reply.h"
#include "dataplane/learned_commands.h"
#include "dataplane/pool_link.h"
#include "dataplane/topology.h"
#include "dataplane/worker_context.h"
#include "hashing/placement.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class PubSubHub;
class Server;

class ServerPool final : public PoolLink {
 public:
  // `pool` points into `topology`, which this object keeps alive.
  ServerPool(WorkerContext* context, std::shared_ptr<const Topology> topology,
             const TopologyPool* pool);
  ~ServerPool();
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  // PoolLink
  const config::PoolConfig& config() const override { return pool_->config; }
  const PoolTls& tls() const override { return pool_->tls; }
  PoolStats& stats() override { return *stats_; }
  // A server was ejected or came back: route over the servers that are live now.
  void RebuildPlacement() override;

  // The server owning `key`, or null when no server is live.
  Server* ServerForKey(std::string_view key) {
    const uint32_t index = placement_->ServerFor(key);
    return index == hashing::Continuum::kNoServer ? nullptr : servers_[index].get();
  }
  size_t server_count() const { return servers_.size(); }
  Server& server(size_t i) { return *servers_[i]; }
  // The placement routing uses now (the topology's, or the live servers' after an ejection).
  const hashing::Placement& placement() const { return *placement_; }
  // Indices of the servers in the ring now (not ejected), for requests sent to every server.
  std::vector<uint32_t> LiveServers() const;
  // The first server in the ring, or kNoServerYet.
  uint32_t AnyLiveServer() const;
  // The index of `server`, which must be one of this pool's current servers.
  uint32_t IndexOf(const Server* server) const;
  // Commands this pool's servers taught the proxy (this worker's; learned on first use).
  LearnedCommands& learned() { return learned_; }
  // The figures INFO reports for this pool, summed over every worker.
  InfoFigures GatherInfoFigures(int workers) const;
  // This worker's subscriptions to the pool's channels (pubsub_hub.h).
  PubSubHub& pubsub() { return *pubsub_; }
  // Flow-control limits of the pool's clients: the worker's, with the pool's own keys applied.
  const FlowLimits& flow_limits() const { return flow_limits_; }

  // A client connected to this pool: true when max_clients and --max-clients let it in; it is
  // then counted, over all workers, until ReleaseClient. False: refused, counted and logged (at
  // most once a second per worker and pool, however many are refused).
  bool AdmitClient();
  void ReleaseClient();
  // Wrong passwords given to this pool on this worker.
  AuthFailures& auth_failures() { return auth_failures_; }
  // A client's TLS handshake took longer than tls.handshake_timeout: counted, and logged at most
  // once a second per worker and pool (the caller closes it).
  void CountHandshakeTimeout();

  // Adopts a new snapshot of this pool (same name).
  void Reconcile(std::shared_ptr<const Topology> topology, const TopologyPool* pool);
  void Preconnect();
  // Periodic: request timeouts, ejected servers coming back, removed servers going.
  void Tick(uint64_t now_ns);
  void ApplyFlowLimits();
  void CloseAll();
  // No server connection left open (removed servers included).
  bool Quiet() const;

 private:
  void LogHandshakeTimeouts(uint64_t events);

  WorkerContext* context_;
  std::shared_ptr<const Topology> topology_;
  const TopologyPool* pool_;
  std::vector<std::unique_ptr<Server>> servers_;  // parallel to pool_->config.servers
  std::vector<std::unique_ptr<Server>> removed_;  // finishing in-flight requests
  std::optional<hashing::Placement> ejected_placement_;
  const hashing::Placement* placement_;
  std::shared_ptr<PoolStats> stats_;
  FlowLimits flow_limits_;
  LearnedCommands learned_;
  std::atomic<int64_t>* client_count_;  // shared by every worker's pool of this name
  uint64_t rejections_unlogged_ = 0;
  uint64_t next_rejection_log_ms_ = 0;
  LogThrottle handshake_timeout_log_;
  AuthFailures auth_failures_;
  std::unique_ptr<PubSubHub> pubsub_;
};

}  // namespace ringproxy::proxy
