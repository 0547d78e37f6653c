// WorkerContext: what every pool, server, connection and request of one worker shares — the
// loop, the batch clock, the read scratch, the free lists of requests and fragments, the routing
// scratch, and the queues of connections to flush at the end of the loop iteration. Everything
// below the Worker takes a WorkerContext, never the Worker: the classes of the data path then
// depend only downwards (Worker -> ClientConnection -> ServerPool -> Server -> ServerConnection
// -> WorkerContext), and each can be built and tested over a context of its own.
//
// Two things travel upwards, and both are callbacks set by the owner of the context:
//   - a fragment's reply settling its request (FragmentSettler): once per reply, so a plain
//     function pointer, not a virtual call;
//   - a client closing or waiting for a command to be learned (ClientRegistry): once per
//     connection or per learning, a virtual call.
// Loop thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_buffer.h"
#include "base/clock.h"
#include "dataplane/request.h"
#include "dataplane/router.h"
#include "dataplane/worker_settings.h"
#include "net/read_scratch.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class ClientAdmission;
class ClientConnection;
class ServerConnection;

// Settles `fragment` with `reply` (the server's whole RESP reply, or the error standing in for
// it): frees the fragment and completes its request when that was its last.
class WorkerContext;
using FragmentSettler = void (*)(WorkerContext* context, Fragment* fragment,
                                 std::string_view reply);

// The owner of the clients (the Worker): told when one closes or waits for learning.
class ClientRegistry {
 public:
  virtual void OnClientClosed(ClientConnection* client) = 0;
  // `client` waits for a command to be learned (learned_commands.h); it is told, once, when any
  // learning finishes, or forgotten when it closes.
  virtual void WaitForLearning(ClientConnection* client) = 0;

 protected:
  ~ClientRegistry() = default;
};

class WorkerContext {
 public:
  // `stats` and `admission` (shared by every worker) outlive the context; so does `clients`.
  WorkerContext(int id, const WorkerSettings& settings, StatsRegistry* stats,
                ClientAdmission* admission, FragmentSettler settle, ClientRegistry* clients);
  ~WorkerContext();
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  uv_loop_t* loop() { return &loop_; }
  int id() const { return id_; }
  const WorkerSettings& settings() const { return settings_; }
  StatsRegistry* stats() { return stats_; }
  ClientAdmission* admission() { return admission_; }
  bool draining() const { return draining_; }
  ReadScratch* read_scratch() { return &read_scratch_; }
  ClientRegistry* clients() { return registry_; }

  // The monotonic clock read once per batch of reads (UpdateClock), not once per request.
  uint64_t now_ns() const { return now_ns_; }
  uint64_t now_ms() const { return now_ns_ / clock::kNanosPerMilli; }
  void UpdateClock() { now_ns_ = clock::MonotonicNs(); }

  // Called on the loop thread when a connection to a server fails, so the control thread can
  // look the name up again at once.
  void ReportServerFailure(const std::string& pool, const std::string& server) {
    if (settings_.on_server_failure) settings_.on_server_failure(pool, server);
  }

  // A connection has output or requests to send: flushed once at the end of this loop
  // iteration (the connection keeps a flag so it is queued once).
  void QueueFlush(ClientConnection* client) { client_flushes_.push_back(client); }
  void QueueFlush(ServerConnection* server) { server_flushes_.push_back(server); }

  // A fragment's reply (or the error standing in for it) has arrived: settle its request.
  void CompleteFragment(Fragment* fragment, std::string_view reply) {
    settle_(this, fragment, reply);
  }

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
  // A forwarded reply too long to keep inline waits in one of the spare buffers, if any.
  void TakeSpareReply(Request* request);
  // After many clients went away: the free lists sized for the peak give their memory back.
  void ReleaseSpareMemory();

 protected:
  bool draining_ = false;
  std::vector<ClientConnection*> client_flushes_;
  std::vector<ServerConnection*> server_flushes_;

 private:
  // A reply buffer of a usual size goes to the spares when its request is done; a reply that
  // must wait in a buffer takes one from there.
  void KeepSpareReply(Request* request);

  // Free lists are kept short enough that a burst does not pin memory for good.
  static constexpr size_t kMaxFreeObjects = 4096;
  static constexpr size_t kFreeObjectsAfterTrim = 64;
  // A reply that arrives before the replies ahead of it, and is too long to keep inline in its
  // Request, waits in a buffer of its own: one malloc and one free per such reply, the largest
  // cost of proxying pipelined replies of a few KiB. Buffers of requests done go to these spares
  // instead (up to 4 MiB in all: enough for the replies of hundreds of pipelining clients), and
  // the next such reply takes one.
  static constexpr size_t kMaxSpareReplyBytes = 8u << 10;  // per buffer
  static constexpr size_t kSpareRepliesBudget = 4u << 20;  // all buffers

  const int id_;
  const WorkerSettings settings_;
  StatsRegistry* stats_;
  ClientAdmission* admission_;
  const FragmentSettler settle_;
  ClientRegistry* registry_;
  uv_loop_t loop_{};
  uint64_t now_ns_;
  ReadScratch read_scratch_;
  Router router_;
  std::vector<std::string_view> args_;
  ByteBuffer encode_buffer_;
  std::vector<Fragment*> fragment_scratch_;
  std::vector<Request*> free_requests_;
  std::vector<Fragment*> free_fragments_;
  std::vector<ByteBuffer> spare_replies_;
  size_t spare_reply_bytes_ = 0;  // their capacity
};

}  // namespace ringproxy::proxy
