#include "dataplane/server.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "base/clock.h"
#include "base/logger.h"
#include "dataplane/client_admission.h"
#include "dataplane/request.h"
#include "dataplane/server_connection.h"

namespace ringproxy::proxy {

Server::Server(WorkerContext* context, PoolLink* pool, const config::ServerConfig& config,
               const SocketAddress& address)
    : ServerLink(context->stats()->RegisterServer(context->id(), pool->config().name, config.name)),
      context_(context),
      pool_(pool),
      config_(config),
      address_(address),
      slots_(static_cast<size_t>(std::max(1, pool->config().server_connections))),
      connections_(2 * slots_, nullptr),
      pinned_count_(context->admission()->PinnedCount(pool->config().name, config.name)) {}

Server::~Server() = default;

ServerConnection* Server::PickConnection(size_t slot) {
  // An empty slot gets a fresh connection.
  if (connections_[slot] == nullptr) OpenConnection(slot);
  // Connect may have failed at once and closed it (the slot is then null again).
  return connections_[slot];
}

void Server::OpenConnection(size_t slot) {
  const Protocol protocol = slot < slots_ ? Protocol::kResp2 : Protocol::kResp3;
  // Freed in its close callback.
  auto* connection = new ServerConnection(context_, this, protocol);
  connections_[slot] = connection;
  connection->Connect(address_);
}

bool Server::Reachable(Fragment* fragment) {
  if (resolved()) return true;
  // The name does not resolve (a pod being rescheduled): fail fast, as nutcracker does for a
  // host it cannot resolve.
  if (fragment->kind == FragmentKind::kRequest) pool_->stats().forward_error.Add();
  context_->CompleteFragment(fragment, "-ERR Host is down\r\n");
  return false;
}

void Server::Send(Fragment* fragment, std::string_view bytes, uint64_t affinity,
                  Protocol protocol) {
  ServerStats& counters = stats();
  counters.requests.Add();
  counters.request_bytes.Add(bytes.size());
  const size_t slot = Slot(affinity, protocol);
  ServerConnection* connection = resolved() ? connections_[slot] : nullptr;
  if (connection == nullptr) [[unlikely]] {
    SendOnNewConnection(fragment, bytes, slot);
    return;
  }
  connection->Enqueue(fragment, bytes);
}

void Server::SendOnNewConnection(Fragment* fragment, std::string_view bytes, size_t slot) {
  if (!Reachable(fragment)) return;
  ServerConnection* connection = PickConnection(slot);
  if (connection == nullptr) {
    pool_->stats().forward_error.Add();
    context_->CompleteFragment(fragment, "-ERR Connection refused\r\n");
    return;
  }
  connection->Enqueue(fragment, bytes);
}

void Server::SendBlock(std::span<Fragment* const> fragments, std::string_view bytes,
                       uint64_t affinity, Protocol protocol) {
  stats().requests.Add(fragments.size());
  stats().request_bytes.Add(bytes.size());
  ServerConnection* connection = resolved() ? PickConnection(Slot(affinity, protocol)) : nullptr;
  if (connection == nullptr) {
    const char* reply = resolved() ? "-ERR Connection refused\r\n" : "-ERR Host is down\r\n";
    for (Fragment* fragment : fragments) {
      if (fragment->kind == FragmentKind::kRequest) pool_->stats().forward_error.Add();
      context_->CompleteFragment(fragment, reply);
    }
    return;
  }
  connection->EnqueueBlock(fragments, bytes);
}

void Server::SendOn(ServerConnection* pinned, Fragment* fragment, std::string_view bytes) {
  stats().requests.Add();
  stats().request_bytes.Add(bytes.size());
  pinned->Enqueue(fragment, bytes);
}

void Server::SendBlockOn(ServerConnection* pinned, std::span<Fragment* const> fragments,
                         std::string_view bytes) {
  stats().requests.Add(fragments.size());
  stats().request_bytes.Add(bytes.size());
  pinned->EnqueueBlock(fragments, bytes);
}

ServerConnection* Server::Pin(PinHolder* holder, Protocol protocol, PinRefusal* refused,
                              uint64_t usual_affinity) {
  *refused = PinRefusal::kNone;
  if (!resolved()) {
    *refused = PinRefusal::kUnreachable;
    return nullptr;
  }
  if (!ClientAdmission::TakeSlot(pinned_count_, pool_->config().max_pinned_connections)) {
    *refused = PinRefusal::kLimit;
    return nullptr;
  }
  ServerConnection* connection = TakeUsualOrIdle(usual_affinity, protocol);
  if (connection == nullptr) {
    // Freed in its close callback.
    connection = new ServerConnection(context_, this, protocol);
    connection->Connect(address_);
    // A connect that fails at once closes the connection, which then frees itself.
    if (connection->closing()) {
      pinned_count_->fetch_sub(1, std::memory_order_relaxed);
      *refused = PinRefusal::kUnreachable;
      return nullptr;
    }
  }
  pinned_.push_back(connection);
  connection->set_holder(holder);
  stats().pinned_connections.Add(1);
  return connection;
}

ServerConnection* Server::TakeUsualOrIdle(uint64_t usual_affinity, Protocol protocol) {
  if (usual_affinity != kNoAffinity) {
    ServerConnection*& usual = connections_[Slot(usual_affinity, protocol)];
    // What others queued on it before is answered first; what they send next opens another.
    if (usual != nullptr && !usual->closing()) return std::exchange(usual, nullptr);
  }
  const auto idle =
      std::find_if(idle_pinned_.rbegin(), idle_pinned_.rend(),
                   [protocol](const ServerConnection* c) { return c->protocol() == protocol; });
  if (idle == idle_pinned_.rend()) return nullptr;
  ServerConnection* connection = *idle;
  idle_pinned_.erase(std::next(idle).base());
  return connection;
}

void Server::Unpin(ServerConnection* connection, bool reusable, uint64_t usual_affinity) {
  connection->set_holder(nullptr);
  // Lost while its holder was being told (a reply failed by the close): already let go.
  if (std::erase(pinned_, connection) == 0) return;
  pinned_count_->fetch_sub(1, std::memory_order_relaxed);
  stats().pinned_connections.Add(-1);
  // Clean connections are kept, but not one that leads to an address the server has moved
  // from, nor one of a server that left the pool: it would serve the next request from there,
  // or keep the server from ever being quiet.
  if (reusable && !connection->closing() && !leaving_ && connection->address() == address_) {
    // Back in the holder's slot when nobody has filled it since: WAIT takes that connection
    // (Pin), and after every WAIT a new one would otherwise be opened.
    if (usual_affinity != kNoAffinity) {
      ServerConnection*& usual = connections_[Slot(usual_affinity, connection->protocol())];
      if (usual == nullptr) {
        usual = connection;
        return;
      }
    }
    // A few more for the next pin: a WATCH retry loop pins one per attempt.
    constexpr size_t kIdlePinnedKept = 4;
    if (idle_pinned_.size() < kIdlePinnedKept) {
      idle_pinned_.push_back(connection);
      return;
    }
  }
  retired_.push_back(connection);
  connection->Retire();  // may close it at once, which removes it from retired_
}

void Server::Abandon(ServerConnection* connection) {
  connection->AbandonBlocked();
  Unpin(connection, /*reusable=*/false);
  Unblock(connection);
}

void Server::Unblock(ServerConnection* connection) {
  if (connection->client_id() == 0 || connection->closing() || !resolved()) return;
  const std::string id = std::to_string(connection->client_id());
  const std::string command = "*4\r\n$6\r\nCLIENT\r\n$7\r\nUNBLOCK\r\n$" +
                              std::to_string(id.size()) + "\r\n" + id + "\r\n$7\r\nTIMEOUT\r\n";
  Fragment* quiet = context_->NewFragment();
  quiet->kind = FragmentKind::kQuiet;
  Send(quiet, command, connection->client_id(), Protocol::kResp2);
}

void Server::Preconnect() {
  if (!resolved()) return;
  // RESP2's: RESP3 connections open when a RESP3 client first needs one.
  for (size_t slot = 0; slot < slots_; ++slot) {
    if (connections_[slot] == nullptr) OpenConnection(slot);
  }
}

ServerConnection* Server::OpenSubscriber(SubscriberSink* sink) {
  if (!resolved()) return nullptr;
  // Freed in its close callback. RESP2: every frame is then an array naming what it is.
  auto* connection = new ServerConnection(context_, this, Protocol::kResp2);
  connection->Connect(address_);
  if (connection->closing()) return nullptr;
  connection->set_sink(sink);
  subscribers_.push_back(connection);
  return connection;
}

void Server::Update(const config::ServerConfig& config, const SocketAddress& address) {
  config_ = config;
  const size_t slots = static_cast<size_t>(std::max(1, pool_->config().server_connections));
  if (address != address_) {
    RP_LOG(kLogNotice, "server '%s' in pool '%s' moved: %s -> %s", config_.name.c_str(),
           pool_->config().name.c_str(),
           address_.length ? address_.ToString().c_str() : "(unresolved)",
           address.length ? address.ToString().c_str() : "(unresolved)");
    address_ = address;
    RetireConnections();
    failures_ = 0;
  }
  if (slots != slots_) {
    RetireConnections();
    slots_ = slots;
    connections_.assign(2 * slots_, nullptr);
  }
}

void Server::Retire() {
  leaving_ = true;
  RetireConnections();
}

void Server::RetireConnections() {
  // Subscriptions do not move with the address: their clients are told (PubSubHub).
  for (ServerConnection* connection : std::vector<ServerConnection*>(subscribers_)) {
    connection->Close(0);
  }
  for (ServerConnection*& slot : connections_) {
    if (slot == nullptr) continue;
    ServerConnection* connection = slot;
    slot = nullptr;
    retired_.push_back(connection);
    connection->Retire();  // may close it at once, which removes it from retired_
  }
  // Idle pinned connections lead to the old address too; pinned ones in use stay with their
  // clients, which go on talking to the server they WATCH until they are done.
  for (ServerConnection* connection : std::exchange(idle_pinned_, {})) {
    retired_.push_back(connection);
    connection->Retire();
  }
}

bool Server::Quiet() const {
  return retired_.empty() && pinned_.empty() && idle_pinned_.empty() && subscribers_.empty() &&
         std::all_of(connections_.begin(), connections_.end(),
                     [](const ServerConnection* c) { return c == nullptr; });
}

std::string Server::Where(const SocketAddress& address) const {
  return "server '" + config_.name + "' (" +
         (address.length != 0 ? address.ToString() : std::string("unresolved")) + ") in pool '" +
         pool_->config().name + "'";
}

void Server::OnErrorResponse(std::string_view reply) {
  if (reply.starts_with("-LOADING") || reply.starts_with("-BUSY") || reply.starts_with("-OOM")) {
    CountFailure();
    return;
  }
  failures_ = 0;
}

bool Server::AcceptHandshakeReply(const SocketAddress& address, std::string_view command,
                                  std::string_view reply) {
  if (reply == "+OK\r\n") return true;
  // Anything else is a refusal: an error, or a reply AUTH and SELECT never give (a server that
  // answers them so cannot be followed).
  const bool is_error = !reply.empty() && reply.front() == '-';
  std::string_view text = is_error ? reply.substr(1) : "a reply other than +OK";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  // A server without a password answers AUTH with an error (Redis 6+: "AUTH <password> called
  // without any password configured...", before: "Client sent AUTH, but no password is set") yet
  // serves the connection: redis_auth then guards the proxy alone, as with nutcracker.
  const bool needs_no_password =
      is_error && command == "AUTH" &&
      (text.find("without any password configured") != std::string_view::npos ||
       text.find("no password is set") != std::string_view::npos);
  constexpr uint64_t kLogIntervalNs = 60ull * 1000000000;
  const uint64_t now = context_->now_ns();
  if (last_refusal_log_ns_ != 0 && now - last_refusal_log_ns_ < kLogIntervalNs) {
    ++refusals_not_logged_;
    return needs_no_password;
  }
  std::string sent(command);
  if (command == "SELECT") sent += " " + std::to_string(pool_->config().redis_db);
  if (needs_no_password) {
    RP_LOG(kLogWarn,
           "%s has no password: it answered the proxy's AUTH with \"%.*s\" (redis_auth guards "
           "only the proxy's clients)",
           Where(address).c_str(), static_cast<int>(text.size()), text.data());
  } else {
    RP_LOG(kLogError,
           "%s refused the proxy's %s with \"%.*s\": its requests fail with that error until it "
           "accepts (%u more refusals in the last minute)",
           Where(address).c_str(), sent.c_str(), static_cast<int>(text.size()), text.data(),
           refusals_not_logged_);
  }
  last_refusal_log_ns_ = now;
  refusals_not_logged_ = 0;
  return needs_no_password;
}

void Server::LogConnectFailure(const SocketAddress& address, const std::string& why) {
  constexpr uint64_t kLogIntervalNs = 1000000000;
  const uint64_t now = context_->now_ns();
  if (last_failure_log_ns_ != 0 && now - last_failure_log_ns_ < kLogIntervalNs) {
    ++failures_not_logged_;
    return;
  }
  RP_LOG(kLogWarn, "connect to %s failed: %s (%u more in the last second)", Where(address).c_str(),
         why.c_str(), failures_not_logged_);
  last_failure_log_ns_ = now;
  failures_not_logged_ = 0;
}

void Server::OnConnectionClosed(ServerConnection* connection, int error) {
  for (ServerConnection*& slot : connections_) {
    if (slot == connection) slot = nullptr;
  }
  std::erase(retired_, connection);
  std::erase(idle_pinned_, connection);
  std::erase(subscribers_, connection);
  if (std::erase(pinned_, connection) > 0) {
    // Lost while pinned: the holder has been told (ServerConnection::Close) and lets it go.
    pinned_count_->fetch_sub(1, std::memory_order_relaxed);
    stats().pinned_connections.Add(-1);
  }
  if (error == 0 || context_->draining()) return;
  // Maybe the pod moved: have its name looked up again now rather than at TTL expiry.
  context_->ReportServerFailure(pool_->config().name, config_.name);
  CountFailure();
}

void Server::CountFailure() {
  ++failures_;
  const config::PoolConfig& pool = pool_->config();
  if (pool.auto_eject_hosts && failures_ >= static_cast<uint32_t>(pool.server_failure_limit) &&
      ejected_until_ns_ == 0) {
    failures_ = 0;
    ejected_until_ns_ =
        context_->now_ns() + static_cast<uint64_t>(pool.server_retry_timeout_ms) * 1000000;
    stats().server_ejected_at.Set(clock::UnixSeconds());
    pool_->stats().server_ejects.Add();
    RP_LOG(kLogWarn, "%s ejected after %d failures in a row, for %lld ms", Where(address_).c_str(),
           pool.server_failure_limit, static_cast<long long>(pool.server_retry_timeout_ms));
    pool_->RebuildPlacement();
  }
}

bool Server::Tick(uint64_t now_ns) {
  const int64_t timeout = pool_->config().timeout_ms;
  if (timeout > 0) {
    const auto limit = static_cast<uint64_t>(timeout) * 1000000;
    auto check = [&](ServerConnection* connection) {
      // A blocking command's wait starts counting later (its own timeout): maybe not yet.
      if (connection != nullptr && connection->queued() > 0 &&
          now_ns >= connection->oldest_enqueued_ns() &&
          now_ns - connection->oldest_enqueued_ns() >= limit) {
        RP_LOG(kLogWarn, "request to %s timed out after %lld ms",
               Where(connection->address()).c_str(), static_cast<long long>(timeout));
        connection->Close(UV_ETIMEDOUT);
      }
    };
    // Copies: closing a connection edits these lists.
    for (ServerConnection* connection : std::vector<ServerConnection*>(connections_)) {
      check(connection);
    }
    for (ServerConnection* connection : std::vector<ServerConnection*>(retired_)) {
      check(connection);
    }
    for (ServerConnection* connection : std::vector<ServerConnection*>(pinned_)) {
      check(connection);
    }
    for (ServerConnection* connection : std::vector<ServerConnection*>(subscribers_)) {
      check(connection);  // its handshake: nothing else is queued on it
    }
  }
  // Blocked connections whose client left and that are still waiting: the unblock may have
  // reached the server before the command did, or the id may have been unknown then.
  for (ServerConnection* connection : std::vector<ServerConnection*>(retired_)) {
    if (connection->abandoned() && connection->queued() > 0) Unblock(connection);
  }
  if (ejected_until_ns_ != 0 && now_ns >= ejected_until_ns_) {
    ejected_until_ns_ = 0;
    stats().server_ejected_at.Set(0);
    RP_LOG(kLogNotice, "%s back in the pool after its ejection", Where(address_).c_str());
    return true;
  }
  return false;
}

void Server::CloseAll() {
  for (ServerConnection* connection : std::vector<ServerConnection*>(connections_)) {
    if (connection != nullptr) connection->Close(UV_ECONNABORTED);
  }
  for (ServerConnection* connection : std::vector<ServerConnection*>(retired_)) {
    connection->Close(UV_ECONNABORTED);
  }
  for (ServerConnection* connection : std::vector<ServerConnection*>(pinned_)) {
    connection->Close(UV_ECONNABORTED);
  }
  for (ServerConnection* connection : std::vector<ServerConnection*>(idle_pinned_)) {
    connection->Close(UV_ECONNABORTED);
  }
  for (ServerConnection* connection : std::vector<ServerConnection*>(subscribers_)) {
    connection->Close(UV_ECONNABORTED);
  }
}

}  // namespace ringproxy::proxy
