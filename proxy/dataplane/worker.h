// Worker: one event loop on one thread, serving every pool with its own listening sockets
// (SO_REUSEPORT: the kernel spreads connections over workers) and its own server connections.
// Nothing on the request path is shared with another worker; the only cross-thread inputs are
// the drain request (uv_async) and, later, new topologies.
//
// One loop iteration: reads parse and route requests and queue bytes on connections; the check
// phase then flushes every connection touched in that iteration with one write each.
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
#include "dataplane/router.h"
#include "dataplane/topology.h"
#include "dataplane/worker_settings.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class ClientAdmission;
class ClientConnection;
class ServerConnection;
class ServerPool;

class Worker {
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

  // --- for this worker's connections (loop thread only) ---
  uv_loop_t* loop() { return &loop_; }
  uint64_t now_ms() const { return uv_now(&loop_); }
  // A monotonic clock read once per batch of reads (UpdateClock), not once per request.
  uint64_t now_ns() const { return now_ns_; }
  void UpdateClock() { now_ns_ = uv_hrtime(); }
  StatsRegistry* stats() { return stats_; }
  ClientAdmission* admission() { return admission_; }
  int id() const { return id_; }
  const WorkerSettings& settings() const { return settings_; }
  bool draining() const { return draining_; }
  char* scratch() { return scratch_.get(); }
  static constexpr size_t kScratchSize = 64u << 10;
  // Where TLS connections read ciphertext before decrypting it into scratch(); kScratchSize
  // bytes, allocated by the first TLS connection.
  char* tls_scratch();

  void ScheduleFlush(ClientConnection* client);
  void ScheduleFlush(ServerConnection* server);
  void OnClientClosed(ClientConnection* client);
  void ReportServerFailure(const std::string& pool, const std::string& server);
  // Scratch shared by the worker's clients, which dispatch one request at a time on this thread:
  // the routing decision's state, the arguments of the request being dispatched, a re-encoded
  // request, a transaction's fragments. Reused, so routing allocates nothing in steady state.
  Router& router() { return router_; }
  std::vector<std::string_view>& args() { return args_; }
  ByteBuffer& encode_buffer() { return encode_buffer_; }
  std::vector<Fragment*>& fragment_scratch() { return fragment_scratch_; }
  // After an exceptionally large request: the argument scratch gives its memory back.
  void TrimArgs() {
    if (args_.capacity() > 1024) std::vector<std::string_view>().swap(args_);
  }
  // `client` waits for a command to be learned (learned_commands.h); it is told, once, when any
  // learning finishes, or forgotten when it closes.
  void WaitForLearning(ClientConnection* client);
  // A fragment's reply (or the error standing in for it) has arrived: settle its request.
  void CompleteFragment(Fragment* fragment, std::string_view reply);
  // Unique across workers (CLIENT ID, HELLO): one shared counter, touched once per accept.
  static uint64_t NextClientId();

  // Inline: a request and a fragment come and go with every command.
  Request* NewRequest() {
    if (free_requests_.empty()) return new Request();
    Request* request = free_requests_.back();
    free_requests_.pop_back();
    return request;
  }
  void FreeRequest(Request* request) {
    if (request->reply.capacity() != 0) KeepSpareReply(request);
    if (free_requests_.size() >= kMaxFreeObjects) {
      delete request;
      return;
    }
    request->Reset();
    free_requests_.push_back(request);
  }
  Fragment* NewFragment() {
    if (free_fragments_.empty()) return new Fragment();
    Fragment* fragment = free_fragments_.back();
    free_fragments_.pop_back();
    return fragment;
  }
  void FreeFragment(Fragment* fragment) {
    if (free_fragments_.size() >= kMaxFreeObjects) {
      delete fragment;
      return;
    }
    *fragment = Fragment();
    free_fragments_.push_back(fragment);
  }

 private:
  // A reply buffer of a usual size goes to the spares when its request is done; a reply that
  // must wait in a buffer takes one from there.
  void KeepSpareReply(Request* request);
  // The servers' COMMAND INFO replies are in: learn, and wake the clients that waited.
  void FinishLearning(Request* request);
  void TakeSpareReply(Request* request);

  // Free lists are kept short enough that a burst does not pin memory for good.
  static constexpr size_t kMaxFreeObjects = 4096;
  // A reply that arrives before the replies ahead of it, and is too long to keep inline in its
  // Request, waits in a buffer of its own: one malloc and one free per such reply, the largest
  // cost of proxying pipelined replies of a few KiB. Buffers of requests done go to these spares
  // instead (up to 4 MiB in all: enough for the replies of hundreds of pipelining clients), and
  // the next such reply takes one.
  static constexpr size_t kMaxSpareReplyBytes = 8u << 10;  // per buffer
  static constexpr size_t kSpareRepliesBudget = 4u << 20;  // all buffers

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

  const int id_;
  const int workers_;
  std::shared_ptr<const Topology> topology_;
  WorkerSettings settings_;
  uv_loop_t loop_{};
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
  bool draining_ = false;
  bool closing_all_ = false;
  std::thread thread_;
  std::unique_ptr<char[]> scratch_;
  std::unique_ptr<char[]> tls_scratch_;
  std::vector<std::unique_ptr<ServerPool>> pools_;
  std::vector<std::unique_ptr<ServerPool>> removed_pools_;  // until their clients have gone
  std::vector<Listener*> listeners_;
  std::vector<ClientConnection*> clients_;  // every open client, for drain
  std::vector<ClientConnection*> learning_waiters_;
  std::vector<ClientConnection*> client_flushes_;
  std::vector<ServerConnection*> server_flushes_;
  // What OnCheck is flushing, swapped with the lists above: both pairs keep their capacity, so a
  // busy loop iteration allocates nothing.
  std::vector<ClientConnection*> clients_flushing_;
  std::vector<ServerConnection*> servers_flushing_;
  Router router_;
  std::vector<std::string_view> args_;
  ByteBuffer encode_buffer_;
  std::vector<Fragment*> fragment_scratch_;
  std::vector<Request*> free_requests_;
  std::vector<ByteBuffer> spare_replies_;
  size_t spare_reply_bytes_ = 0;  // their capacity
  std::vector<Fragment*> free_fragments_;
  uint64_t now_ns_ = 0;
  uint64_t last_output_scan_ns_ = 0;
  size_t clients_at_trim_ = 0;  // the most clients seen since memory was last returned
  uint64_t next_idle_sweep_ns_ = 0;
  uint64_t next_handshake_sweep_ns_ = 0;
  StatsRegistry* stats_;
  ClientAdmission* admission_;
};

}  // namespace ringproxy::proxy
