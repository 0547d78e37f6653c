// Worker: one event loop on one thread, serving every pool with its own listening sockets
// (SO_REUSEPORT: the kernel spreads connections over workers) and its own server connections.
// Nothing on the request path is shared with another worker; the only cross-thread inputs are
// the drain request and new topologies, each through a uv_async.
//
// One loop iteration: reads parse and route requests and queue bytes on connections; the check
// phase then flushes every connection touched in that iteration with one write each.
//
// The Worker is the top of the data path: it owns the pools and the clients, and is the context
// (worker_context.h) everything below it works in. It settles each reply's request with its
// client, and keeps the list of clients for draining, the idle and handshake sweeps, and the
// clients waiting for a command to be learned.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dataplane/request.h"
#include "dataplane/topology.h"
#include "dataplane/worker_context.h"
#include "dataplane/worker_settings.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class ClientAdmission;
class ClientConnection;
class ServerConnection;
class ServerPool;

class Worker final : public WorkerContext, public ClientRegistry {
 public:
  // `stats` and `admission` (shared by every worker) outlive the worker.
  Worker(int id, std::shared_ptr<const Topology> topology, const WorkerSettings& settings,
         int workers, StatsRegistry* stats, ClientAdmission* admission);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Adopts one listening socket per pool (in topology order), on the calling thread, before
  // Start(). The worker owns the descriptors from then on.
  bool Listen(const std::vector<int>& listen_fds, std::string* error);
  void Start();
  // Thread-safe: stop accepting, finish in-flight requests, close clients, then leave the loop.
  void Drain();
  void Join();
  // Thread-safe: adopt `topology` between requests. `listen_fds` has one entry per pool of the
  // new topology: a new listening socket to adopt (its old listener, if any, closes once the new
  // one is up) or -1 to keep the pool's current listener.
  void UpdateTopology(std::shared_ptr<const Topology> topology, std::vector<int> listen_fds);
  // Any thread: the worker clock at its last periodic tick (0 before the first), to tell a
  // turning loop from a stuck one.
  uint64_t last_tick_ns() const { return last_tick_ns_.load(std::memory_order_relaxed); }

  // ClientRegistry (loop thread only)
  void OnClientClosed(ClientConnection* client) override;
  void WaitForLearning(ClientConnection* client) override;

 private:
  // The WorkerContext's FragmentSettler: a fragment's reply (or the error standing in for it)
  // settles its request, and a request done goes to its client.
  static void SettleFragment(WorkerContext* context, Fragment* fragment, std::string_view reply);
  // The servers' COMMAND INFO replies are in: learn, and wake the clients that waited.
  void FinishLearning(Request* request);

  struct Listener {
    Worker* worker;
    ServerPool* pool;
    union {
      uv_tcp_t tcp;
      uv_pipe_t pipe;
    } handle;
    bool is_unix;
  };

  void Run();
  bool OpenListener(ServerPool* pool, const config::ListenAddress& listen, int backlog, int fd,
                    std::string* error);
  void CloseListener(Listener* listener);
  void AdoptTopology();
  void OnAccept(Listener* listener);
  void OnCheck();
  void OnTick();
  // client_idle_timeout: closes the clients that have waited that long with nothing in flight.
  void CloseIdleClients();
  // tls.handshake_timeout: closes the TLS clients whose handshake has not finished in time.
  void CloseStalledHandshakes();
  void BeginDrain();
  void MaybeFinishDrain();
  void CloseEverything();

  const int workers_;
  std::shared_ptr<const Topology> topology_;
  uv_check_t check_{};
  uv_timer_t tick_{};
  uv_timer_t drain_timer_{};
  uv_async_t drain_async_{};
  uv_async_t update_async_{};
  std::mutex update_mutex_;
  std::shared_ptr<const Topology> pending_topology_;  // guarded by update_mutex_
  std::vector<int> pending_fds_;                      // guarded by update_mutex_
  std::atomic<bool> drain_requested_{false};
  std::atomic<uint64_t> last_tick_ns_{0};
  bool started_ = false;
  bool closing_all_ = false;
  std::thread thread_;
  std::vector<std::unique_ptr<ServerPool>> pools_;
  std::vector<std::unique_ptr<ServerPool>> removed_pools_;  // until their clients have gone
  std::vector<Listener*> listeners_;
  std::vector<ClientConnection*> clients_;  // every open client, for drain
  std::vector<ClientConnection*> learning_waiters_;
  // What OnCheck is flushing, swapped with the context's lists: both pairs keep their capacity,
  // so a busy loop iteration allocates nothing.
  std::vector<ClientConnection*> clients_flushing_;
  std::vector<ServerConnection*> servers_flushing_;
  uint64_t last_output_scan_ns_ = 0;
  size_t clients_at_trim_ = 0;  // the most clients seen since memory was last returned
  uint64_t next_idle_sweep_ns_ = 0;
  uint64_t next_handshake_sweep_ns_ = 0;
};

}  // namespace ringproxy::proxy
