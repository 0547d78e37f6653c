#include "proxy/server.h"

#include <ctime>

#include "proxy/logger.h"
#include "proxy/request.h"
#include "proxy/server_connection.h"
#include "proxy/server_pool.h"
#include "proxy/worker.h"

namespace ringproxy::proxy {

Server::Server(Worker* worker, ServerPool* pool, const config::ServerConfig& config,
               const SocketAddress& address)
    : worker_(worker),
      pool_(pool),
      config_(config),
      address_(address),
      connections_(static_cast<size_t>(std::max(1, pool->config().server_connections)), nullptr),
      stats_(worker->stats()->RegisterServer(worker->id(), pool->config().name, config.name)) {}

Server::~Server() = default;

ServerConnection* Server::PickConnection() {
  // Round-robin over the slots; an empty or closing slot gets a fresh connection.
  const size_t slot = next_connection_;
  next_connection_ = (next_connection_ + 1) % connections_.size();
  ServerConnection*& connection = connections_[slot];
  if (connection == nullptr) {
    connection = new ServerConnection(worker_, this);  // freed in its close callback
    ServerConnection* fresh = connection;
    fresh->Connect(address_);
    // Connect may have failed at once and closed it (the slot is then null again).
    return connections_[slot];
  }
  return connection;
}

void Server::Send(Fragment* fragment, std::string_view bytes) {
  stats_->requests.Add();
  stats_->request_bytes.Add(bytes.size());
  ServerConnection* connection = PickConnection();
  if (connection == nullptr) {
    // The connection failed synchronously; its error was already given to nothing queued yet,
    // so fail this fragment the same way.
    worker_->CompleteFragment(fragment, "-ERR Connection refused\r\n");
    return;
  }
  connection->Enqueue(fragment, bytes);
}

void Server::Preconnect() {
  for (size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i] == nullptr) {
      connections_[i] = new ServerConnection(worker_, this);
      ServerConnection* fresh = connections_[i];
      fresh->Connect(address_);
    }
  }
}

void Server::OnConnected() { failures_ = 0; }

void Server::OnConnectionClosed(ServerConnection* connection, int error) {
  for (ServerConnection*& slot : connections_) {
    if (slot == connection) slot = nullptr;
  }
  if (error == 0 || worker_->draining()) return;
  ++failures_;
  const config::PoolConfig& pool = pool_->config();
  if (pool.auto_eject_hosts && failures_ >= static_cast<uint32_t>(pool.server_failure_limit) &&
      ejected_until_ns_ == 0) {
    failures_ = 0;
    ejected_until_ns_ =
        worker_->now_ns() + static_cast<uint64_t>(pool.server_retry_timeout_ms) * 1000000;
    stats_->server_ejected_at.Set(static_cast<int64_t>(time(nullptr)));
    pool_->stats().server_ejects.Add();
    RP_LOG(kLogWarn, "server '%s' ejected from pool '%s' for %lld ms", config_.name.c_str(),
           pool.name.c_str(), static_cast<long long>(pool.server_retry_timeout_ms));
    pool_->RebuildPlacement();
  }
}

bool Server::Tick(uint64_t now_ns) {
  const int64_t timeout = pool_->config().timeout_ms;
  if (timeout > 0) {
    for (ServerConnection* connection : connections_) {
      if (connection != nullptr && connection->queued() > 0 &&
          now_ns - connection->oldest_enqueued_ns() >= static_cast<uint64_t>(timeout) * 1000000) {
        RP_LOG(kLogWarn, "request to server '%s' timed out after %lld ms", config_.name.c_str(),
               static_cast<long long>(timeout));
        connection->Close(UV_ETIMEDOUT);
      }
    }
  }
  if (ejected_until_ns_ != 0 && now_ns >= ejected_until_ns_) {
    ejected_until_ns_ = 0;
    stats_->server_ejected_at.Set(0);
    RP_LOG(kLogNotice, "server '%s' back in pool '%s'", config_.name.c_str(),
           pool_->config().name.c_str());
    return true;
  }
  return false;
}

void Server::CloseAll() {
  for (ServerConnection* connection : connections_) {
    if (connection != nullptr) connection->Close(UV_ECONNABORTED);
  }
}

}  // namespace ringproxy::proxy
