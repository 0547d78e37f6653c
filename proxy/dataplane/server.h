// Server: one backend as one worker sees it — `server_connections` connections opened on demand
// for each protocol its clients speak (protocol.h), the failure count, and ejection
// (auto_eject_hosts) as nutcracker does it.
//
// Failures are counted as nutcracker counts them: every connection lost to an error (a refused or
// failed connect, a reset, a request timeout) adds one, and only a reply to a request resets the
// count. A hung server (SIGSTOPped, or a dead VM whose kernel still accepts) takes new
// connections but answers nothing: each of its request timeouts counts, and it is ejected after
// `server_failure_limit` of them, however many reconnects succeeded in between.
//
// When the server's address changes (its pod moved), the open connections are retired: they take
// no new requests, finish the ones they carry, then close; new requests open connections to the
// new address. A server whose name does not resolve fails its requests at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/pool_config.h"
#include "dataplane/pin_holder.h"
#include "dataplane/pool_link.h"
#include "dataplane/protocol.h"
#include "dataplane/server_link.h"
#include "dataplane/subscriber_sink.h"
#include "dataplane/worker_context.h"
#include "net/socket_address.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class ServerConnection;
struct Fragment;

// Pin: no shared connection to take.
inline constexpr uint64_t kNoAffinity = UINT64_MAX;

class Server final : public ServerLink {
 public:
  Server(WorkerContext* context, PoolLink* pool, const config::ServerConfig& config,
         const SocketAddress& address);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Queues `bytes` (one whole request) on one of this server's connections; the fragment is
  // completed later with the reply, or with an error if the connection fails. Requests with the
  // same `affinity` (a client) always take the same connection, so one client's commands reach
  // the server in the order it sent them, as with a direct connection. The connection speaks
  // `protocol`, so the reply comes back in it.
  void Send(Fragment* fragment, std::string_view bytes, uint64_t affinity, Protocol protocol);
  // Requests that must reach the server together on one connection (a transaction's MULTI ...
  // EXEC): all of `bytes` is queued at once, one fragment per request; on a failure every
  // fragment fails, none is sent alone.
  void SendBlock(std::span<Fragment* const> fragments, std::string_view bytes, uint64_t affinity,
                 Protocol protocol);
  // As Send and SendBlock, on a connection this server pinned to a client (Pin).
  void SendOn(ServerConnection* pinned, Fragment* fragment, std::string_view bytes);
  void SendBlockOn(ServerConnection* pinned, std::span<Fragment* const> fragments,
                   std::string_view bytes);
  void Preconnect();

  // A new connection carrying this worker's subscriptions to the server (pubsub_hub.h): every
  // frame it receives goes to `sink`. Null when the server is unresolved or the connect failed
  // at once. It closes like any connection (the sink is told), and when the server moves or
  // leaves: its subscriptions lived at the old address.
  ServerConnection* OpenSubscriber(SubscriberSink* sink);

  // A connection for `holder` alone, until Unpin: the shared connection that requests with
  // `usual_affinity` take (Send), when one is open, which later requests then no longer share;
  // else a reused idle one or a new one (connecting; a request queued on it waits for the
  // connection). Null when the server is unresolved or max_pinned_connections are pinned to it
  // over all workers (*refused tells which).
  enum class PinRefusal : uint8_t { kNone, kUnreachable, kLimit };
  ServerConnection* Pin(PinHolder* holder, Protocol protocol, PinRefusal* refused,
                        uint64_t usual_affinity = kNoAffinity);
  // The holder is done with `connection`. `reusable`: nothing it left on the connection
  // outlives its requests (EXEC and UNWATCH clear a WATCH), so it may serve again: as the shared
  // connection of `usual_affinity`'s slot when that is empty, else for the next Pin; otherwise it
  // closes once its requests are answered.
  void Unpin(ServerConnection* connection, bool reusable, uint64_t usual_affinity = kNoAffinity);
  // The holder left while a blocking command was on its pinned `connection`: unpinned, it
  // stays open until the command's reply is in (and what it took, if anything, is given back:
  // give_back.h); the server is asked to unblock it now (CLIENT UNBLOCK <id> TIMEOUT, on another
  // connection), and again each tick until it has answered.
  void Abandon(ServerConnection* connection);

  // A new topology: same name, maybe a new address or settings.
  void Update(const config::ServerConfig& config, const SocketAddress& address);
  // The server left the pool: no new requests reach it; connections close once idle.
  void Retire();

  const SocketAddress& address() const { return address_; }
  bool ejected() const { return ejected_until_ns_ != 0; }
  bool resolved() const { return address_.length != 0; }
  // No connection of this server is open (retired ones included).
  bool Quiet() const;

  // ServerLink
  const config::PoolConfig& pool_config() const override { return pool_->config(); }
  const config::ServerConfig& config() const override { return config_; }
  const std::shared_ptr<const TlsContext>& tls_context() const override {
    return pool_->tls().servers;
  }
  void CountForwardError() override { pool_->stats().forward_error.Add(); }
  std::string Where(const SocketAddress& address) const override;
  // A refusal is logged (the first at once, then at most once a minute with a count), except a
  // server with no password answering AUTH, which needs none: that connection is usable.
  bool AcceptHandshakeReply(const SocketAddress& address, std::string_view command,
                            std::string_view reply) override;
  // One line per second at most: a dead server refuses every request's connection attempt.
  void LogConnectFailure(const SocketAddress& address, const std::string& why) override;
  void OnConnectionClosed(ServerConnection* connection, int error) override;

  // Request timeouts; returns true when the server's liveness changed.
  bool Tick(uint64_t now_ns);
  void CloseAll();

 private:
  size_t Slot(uint64_t affinity, Protocol protocol) const {
    return static_cast<size_t>(protocol) * slots_ + affinity % slots_;
  }
  ServerConnection* PickConnection(size_t slot);
  // Pin's reuse: the shared connection of `usual_affinity`'s slot, else an idle pinned one of
  // `protocol`; null when neither is there.
  ServerConnection* TakeUsualOrIdle(uint64_t usual_affinity, Protocol protocol);
  // Send's rare path, out of line: the slot has no connection yet, or the server no address.
  void SendOnNewConnection(Fragment* fragment, std::string_view bytes, size_t slot);
  // Whether requests can be sent at all; if not, the fragment is failed as nutcracker fails it.
  bool Reachable(Fragment* fragment);
  // One more failure; ejects the server at server_failure_limit when the pool says so.
  void CountFailure();
  void OnErrorResponse(std::string_view reply) override;
  void OpenConnection(size_t slot);
  void RetireConnections();
  void Unblock(ServerConnection* connection);

  WorkerContext* context_;
  PoolLink* pool_;
  config::ServerConfig config_;
  SocketAddress address_;
  size_t slots_;  // server_connections
  // slots_ slots per protocol, RESP2's first; null when closed.
  std::vector<ServerConnection*> connections_;
  std::vector<ServerConnection*> retired_;      // finishing in-flight requests, then closing
  std::vector<ServerConnection*> pinned_;       // each pinned to one client
  std::vector<ServerConnection*> idle_pinned_;  // unpinned and clean, for the next Pin
  std::vector<ServerConnection*> subscribers_;  // OpenSubscriber's
  std::atomic<int64_t>* pinned_count_;          // this server's pins over every worker
  bool leaving_ = false;                        // Retire: the server left the pool
  uint64_t ejected_until_ns_ = 0;               // worker clock; 0 when not ejected
  uint64_t last_failure_log_ns_ = 0;
  uint32_t failures_not_logged_ = 0;
  uint64_t last_refusal_log_ns_ = 0;
  uint32_t refusals_not_logged_ = 0;
};

}  // namespace ringproxy::proxy
