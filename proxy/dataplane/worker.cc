#include "dataplane/worker.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>

#include "base/clock.h"
#include "base/logger.h"
#include "dataplane/client_connection.h"
#include "dataplane/learned_commands.h"
#include "dataplane/request.h"
#include "dataplane/server_connection.h"
#include "dataplane/server_pool.h"
#include "net/uv_handle.h"

namespace ringproxy::proxy {
namespace {

constexpr size_t kTrimAfterClientsGone = 256;
// How often clients are checked against the soft output limit (whose time is in seconds).
constexpr uint64_t kOutputScanNs = clock::kNanosPerSecond;
// The idle sweep looks at every client, so it runs only as often as the timeouts need: every
// eighth of the shortest one, and at least once a second. A client is closed between its timeout
// and that much (plus a tick) later, never before.
constexpr uint64_t kIdleSweepFraction = 8;
constexpr uint64_t kMaxIdleSweepIntervalNs = clock::kNanosPerSecond;
constexpr uint64_t kNanosPerMilli = clock::kNanosPerMilli;

}  // namespace

Worker::Worker(int id, std::shared_ptr<const Topology> topology, const WorkerSettings& settings,
               int workers, StatsRegistry* stats, ClientAdmission* admission)
    : WorkerContext(id, settings, stats, admission, &Worker::SettleFragment, this),
      workers_(workers),
      topology_(std::move(topology)) {
  for (const TopologyPool& pool : topology_->pools) {
    pools_.push_back(std::make_unique<ServerPool>(this, topology_, &pool));
  }
}

Worker::~Worker() = default;

bool Worker::Listen(const std::vector<int>& listen_fds, std::string* error) {
  for (size_t i = 0; i < pools_.size(); ++i) {
    const config::PoolConfig& pool = topology_->pools[i].config;
    if (!OpenListener(pools_[i].get(), pool.listen, pool.backlog, listen_fds[i], error)) {
      return false;
    }
  }
  return true;
}

bool Worker::OpenListener(ServerPool* pool, const config::ListenAddress& listen, int backlog,
                          int fd, std::string* error) {
  auto* listener = new Listener{this, pool, {}, listen.is_unix()};  // freed in its close cb
  int rc = 0;
  if (listener->is_unix) {
    uv_pipe_init(loop(), &listener->handle.pipe, 0);
    rc = uv_pipe_open(&listener->handle.pipe, fd);
  } else {
    uv_tcp_init(loop(), &listener->handle.tcp);
    rc = uv_tcp_open(&listener->handle.tcp, fd);
  }
  listener->handle.tcp.data = listener;
  listeners_.push_back(listener);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), backlog,
                   [](uv_stream_t* server, int status) {
                     auto* l = static_cast<Listener*>(server->data);
                     if (status == 0) l->worker->OnAccept(l);
                   });
  }
  if (rc != 0) {
    *error = "pool '" + pool->config().name + "': listen: " + uv_strerror(rc);
    return false;
  }
  return true;
}

void Worker::CloseListener(Listener* listener) {
  std::erase(listeners_, listener);
  CloseAndDeleteOwner<Listener>(&listener->handle);
}

void Worker::UpdateTopology(std::shared_ptr<const Topology> topology, std::vector<int> listen_fds) {
  {
    std::lock_guard lock(update_mutex_);
    // An update not yet adopted is superseded; its new sockets are not needed any more.
    for (const int fd : pending_fds_) {
      if (fd >= 0) ::close(fd);
    }
    pending_topology_ = std::move(topology);
    pending_fds_ = std::move(listen_fds);
  }
  uv_async_send(&update_async_);
}

void Worker::AdoptTopology() {
  std::shared_ptr<const Topology> topology;
  std::vector<int> fds;
  {
    std::lock_guard lock(update_mutex_);
    topology = std::move(pending_topology_);
    fds = std::move(pending_fds_);
    pending_fds_.clear();
  }
  if (topology == nullptr) return;
  if (draining_) {
    for (const int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    return;
  }
  std::vector<std::unique_ptr<ServerPool>> next;
  for (size_t i = 0; i < topology->pools.size(); ++i) {
    const TopologyPool& pool = topology->pools[i];
    auto it = std::find_if(pools_.begin(), pools_.end(), [&](const auto& existing) {
      return existing != nullptr && existing->config().name == pool.config.name;
    });
    std::unique_ptr<ServerPool> server_pool;
    if (it != pools_.end()) {
      server_pool = std::move(*it);
      server_pool->Reconcile(topology, &pool);
    } else {
      server_pool = std::make_unique<ServerPool>(this, topology, &pool);
      if (pool.config.preconnect) server_pool->Preconnect();
    }
    const int fd = i < fds.size() ? fds[i] : -1;
    if (fd >= 0) {
      // The new listener is up before the old one closes: no connection attempt is refused.
      std::vector<Listener*> old;
      for (Listener* listener : listeners_) {
        if (listener->pool == server_pool.get()) old.push_back(listener);
      }
      std::string error;
      if (!OpenListener(server_pool.get(), pool.config.listen, pool.config.backlog, fd, &error)) {
        RP_LOG(kLogError, "worker %d: %s", id(), error.c_str());
      } else {
        for (Listener* listener : old) CloseListener(listener);
      }
    }
    next.push_back(std::move(server_pool));
  }
  for (auto& removed : pools_) {
    if (removed == nullptr) continue;
    for (Listener* listener : std::vector<Listener*>(listeners_)) {
      if (listener->pool == removed.get()) CloseListener(listener);
    }
    removed_pools_.push_back(std::move(removed));
  }
  pools_ = std::move(next);
  topology_ = std::move(topology);
  for (ClientConnection* client : clients_) client->OnPoolChanged();
  if (!removed_pools_.empty()) {
    // Clients of a pool that is gone finish what they sent, then go.
    for (ClientConnection* client : std::vector<ClientConnection*>(clients_)) {
      for (const auto& removed : removed_pools_) {
        if (client->pool() == removed.get()) client->CloseWhenIdle();
      }
    }
  }
}

void Worker::Start() {
  uv_check_init(loop(), &check_);
  check_.data = this;
  uv_check_start(&check_,
                 [](uv_check_t* handle) { static_cast<Worker*>(handle->data)->OnCheck(); });
  uv_timer_init(loop(), &tick_);
  tick_.data = this;
  uint64_t interval = 100;
  for (const TopologyPool& pool : topology_->pools) {
    if (pool.config.timeout_ms > 0) {
      interval = std::min<uint64_t>(interval, std::max<int64_t>(5, pool.config.timeout_ms / 4));
    }
  }
  uv_timer_start(
      &tick_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->OnTick(); }, interval, interval);
  uv_timer_init(loop(), &drain_timer_);
  drain_timer_.data = this;
  uv_async_init(loop(), &drain_async_,
                [](uv_async_t* async) { static_cast<Worker*>(async->data)->BeginDrain(); });
  drain_async_.data = this;
  uv_async_init(loop(), &update_async_,
                [](uv_async_t* async) { static_cast<Worker*>(async->data)->AdoptTopology(); });
  update_async_.data = this;
  for (auto& pool : pools_) {
    if (pool->config().preconnect) pool->Preconnect();
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Worker::Run() {
  uv_run(loop(), UV_RUN_DEFAULT);
  // Let every close callback run so nothing is leaked at exit.
  uv_run(loop(), UV_RUN_DEFAULT);
}

void Worker::Drain() {
  if (!started_) return;
  drain_requested_.store(true);
  uv_async_send(&drain_async_);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::OnAccept(Listener* listener) {
  auto* client = new ClientConnection(this, listener->pool, workers_);  // freed in close cb
  client->worker_slot = clients_.size();
  clients_.push_back(client);
  client->Accept(reinterpret_cast<uv_stream_t*>(&listener->handle), listener->is_unix);
}

void Worker::OnClientClosed(ClientConnection* client) {
  // Swap-remove: O(1) however many clients there are.
  const size_t slot = client->worker_slot;
  std::erase(learning_waiters_, client);
  if (slot < clients_.size() && clients_[slot] == client) {
    clients_[slot] = clients_.back();
    clients_[slot]->worker_slot = slot;
    clients_.pop_back();
  }
  if (draining_) MaybeFinishDrain();
}

void Worker::OnCheck() {
  // Requests first, so a server gets everything this iteration produced in one write; the
  // replies written below are what this iteration's reads completed. Flushing may schedule
  // more work (a write that finished at once lets a paused client read again): loop until none.
  while (!server_flushes_.empty() || !client_flushes_.empty()) {
    servers_flushing_.swap(server_flushes_);
    for (ServerConnection* server : servers_flushing_) server->RunFlush();
    servers_flushing_.clear();
    clients_flushing_.swap(client_flushes_);
    for (ClientConnection* client : clients_flushing_) client->RunFlush();
    clients_flushing_.clear();
  }
}

void Worker::OnTick() {
  UpdateClock();
  const uint64_t now = now_ns();
  last_tick_ns_.store(now, std::memory_order_relaxed);
  for (auto& pool : pools_) pool->Tick(now);
  for (auto& pool : removed_pools_) pool->Tick(now);
  if (now - last_output_scan_ns_ >= kOutputScanNs) {
    last_output_scan_ns_ = now;
    // Backwards: a client that closes is swap-removed, and what moves into its slot was seen.
    for (size_t i = clients_.size(); i-- > 0;) {
      if (i < clients_.size()) clients_[i]->CheckStalledOutput();
    }
  }
  CloseIdleClients();
  // After many clients went away, give their memory back to the system: glibc keeps freed
  // chunks in the arena otherwise, and a burst of connections would pin memory for good.
  if (clients_.size() + kTrimAfterClientsGone < clients_at_trim_) {
    RP_LOG(kLogInfo, "worker %d: %zu clients left since the peak; returning memory", id(),
           clients_at_trim_ - clients_.size());
    // The free lists sized for the peak go too, then glibc returns what it can.
    ReleaseSpareMemory();
    clients_.shrink_to_fit();
    clients_flushing_.shrink_to_fit();
    malloc_trim(0);
    clients_at_trim_ = clients_.size();
  }
  clients_at_trim_ = std::max(clients_at_trim_, clients_.size());
  // After the trim: the memory of the clients it closes is freed in their close callbacks, and
  // the next tick's trim returns it.
  CloseStalledHandshakes();
}

void Worker::CloseIdleClients() {
  const uint64_t now = now_ns();
  if (draining_ || now < next_idle_sweep_ns_) return;
  uint64_t shortest_ms = 0;
  for (const auto& pool : pools_) {
    const auto timeout_ms = static_cast<uint64_t>(pool->config().client_idle_timeout_ms);
    if (timeout_ms > 0 && (shortest_ms == 0 || timeout_ms < shortest_ms)) shortest_ms = timeout_ms;
  }
  // The current pools set the pace; clients left from a pool a reload removed (they keep its
  // configuration) are looked at along with the others.
  if (shortest_ms == 0) return;
  next_idle_sweep_ns_ =
      now + std::min(shortest_ms * kNanosPerMilli / kIdleSweepFraction, kMaxIdleSweepIntervalNs);
  // Backwards: a client that closes at once is swapped with the last one, already looked at.
  for (size_t i = clients_.size(); i-- > 0;) {
    if (i >= clients_.size()) continue;
    ClientConnection* client = clients_[i];
    const int64_t timeout_ms = client->pool()->config().client_idle_timeout_ms;
    if (timeout_ms <= 0 || !client->AwaitingClient()) continue;
    const uint64_t last_active_ns = client->last_active_ns();
    if (now < last_active_ns ||
        now - last_active_ns < static_cast<uint64_t>(timeout_ms) * kNanosPerMilli) {
      continue;
    }
    client->pool()->stats().client_idle_timeouts.Add();
    // As Redis's timeout: no reply, the connection just ends (with a FIN, so nothing is reset).
    client->HalfClose();
  }
}

void Worker::CloseStalledHandshakes() {
  // Paced as the idle sweep: a client goes between its timeout and an eighth of it later.
  const uint64_t now = now_ns();
  if (now < next_handshake_sweep_ns_) return;
  uint64_t shortest_ms = 0;
  for (const auto& pool : pools_) {
    if (pool->tls().clients == nullptr) continue;
    const auto timeout_ms = static_cast<uint64_t>(pool->config().tls.handshake_timeout_ms);
    if (shortest_ms == 0 || timeout_ms < shortest_ms) shortest_ms = timeout_ms;
  }
  if (shortest_ms == 0) return;
  next_handshake_sweep_ns_ =
      now + std::min(shortest_ms * kNanosPerMilli / kIdleSweepFraction, kMaxIdleSweepIntervalNs);
  // Backwards: a client that closes is swapped with the last one, already looked at.
  for (size_t i = clients_.size(); i-- > 0;) {
    if (i >= clients_.size()) continue;
    ClientConnection* client = clients_[i];
    if (!client->TlsHandshakePending()) continue;
    const auto timeout_ms =
        static_cast<uint64_t>(client->pool()->config().tls.handshake_timeout_ms);
    if (now - client->accepted_ns() < timeout_ms * kNanosPerMilli) continue;
    client->pool()->CountHandshakeTimeout();
    client->Close();
  }
}

void Worker::SettleFragment(WorkerContext* context, Fragment* fragment, std::string_view reply) {
  auto* self = static_cast<Worker*>(context);
  Request* request = fragment->request;
  const FragmentKind kind = fragment->kind;
  const uint32_t index = fragment->index;
  self->FreeFragment(fragment);
  // A handshake's reply was judged by its connection (ServerConnection::OnHandshakeReply);
  // a quiet one (the MULTI and +QUEUED of a transaction block) has nobody waiting for it.
  if (kind != FragmentKind::kRequest || request == nullptr) return;
  ClientConnection* client = request->client;
  if (request->merge == MergeKind::kForward && client != nullptr && client->IsHead(request)) {
    client->CompleteHead(reply);
    return;
  }
  // Too long to keep inline: it waits in a spare buffer rather than a fresh one.
  if (reply.size() > Request::kInlineReply && request->reply.capacity() == 0) {
    self->TakeSpareReply(request);
  }
  if (!request->OnFragmentReply(index, reply)) return;
  if (request->merge == MergeKind::kLearn) {
    self->FinishLearning(request);
    return;
  }
  if (client != nullptr) {
    client->OnRequestDone(request);
  } else {
    self->FreeRequest(request);
  }
}

void Worker::FinishLearning(Request* request) {
  // The last slot holds the name; the others each server's reply.
  std::vector<std::string>& replies = request->fragment_replies;
  const std::string name = std::move(replies.back());
  replies.pop_back();
  request->learning_pool->learned().Learn(name, replies, now_ms());
  FreeRequest(request);
  // Every client that waited for a command to be learned tries again; one whose command is still
  // being learned waits again.
  std::vector<ClientConnection*> waiters;
  waiters.swap(learning_waiters_);
  for (ClientConnection* client : waiters) client->OnCommandLearned();
}

void Worker::WaitForLearning(ClientConnection* client) { learning_waiters_.push_back(client); }

void Worker::BeginDrain() {
  if (draining_) return;
  draining_ = true;
  for (Listener* listener : std::vector<Listener*>(listeners_)) CloseListener(listener);
  // Clients with nothing in flight go now; the others as soon as their last reply is written.
  std::vector<ClientConnection*> clients = clients_;
  for (ClientConnection* client : clients) client->CloseWhenIdle();
  uv_timer_start(
      &drain_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Worker*>(t->data);
        RP_LOG(kLogWarn, "worker %d: drain timeout, closing %zu clients", self->id(),
               self->clients_.size());
        std::vector<ClientConnection*> left = self->clients_;
        for (ClientConnection* client : left) client->Close();
      },
      settings().drain_timeout_ms, 0);
  MaybeFinishDrain();
}

void Worker::MaybeFinishDrain() {
  if (clients_.empty() && !closing_all_) CloseEverything();
}

void Worker::CloseEverything() {
  closing_all_ = true;
  for (auto& pool : pools_) pool->CloseAll();
  for (auto& pool : removed_pools_) pool->CloseAll();
  for (Listener* listener : std::vector<Listener*>(listeners_)) CloseListener(listener);
  CloseHandle(&check_);
  CloseHandle(&tick_);
  CloseHandle(&drain_timer_);
  CloseHandle(&drain_async_);
  CloseHandle(&update_async_);
  std::lock_guard lock(update_mutex_);
  for (const int fd : pending_fds_) {
    if (fd >= 0) ::close(fd);
  }
  pending_fds_.clear();
}

}  // namespace ringproxy::proxy
