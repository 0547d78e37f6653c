// ServerLink: the server a ServerConnection belongs to, as the connection sees it. Per reply the
// connection touches only plain data here (the stats and the failure count, inline); everything
// else is an event of the connection's life (connected, refused, closed), a virtual call made
// once per connection and never per request. Server implements it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/pool_config.h"
#include "net/socket_address.h"
#include "net/tls_context.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class ServerConnection;

class ServerLink {
 public:
  ServerStats& stats() { return *stats_; }

  // A reply to a request (not to the connection's handshake): the server works, so the failure
  // count starts again (nutcracker's server_ok). Replies that say the server cannot serve now
  // (-LOADING, -BUSY, -OOM) count as a failure instead, as in nutcracker. Inline: once per reply.
  void OnResponse(std::string_view reply) {
    if (!reply.empty() && reply.front() == '-') {
      OnErrorResponse(reply);
      return;
    }
    failures_ = 0;
  }

  // What a new connection needs: the pool's settings (handshake, timeouts), the server's, and
  // the TLS context for servers (null without server_tls).
  virtual const config::PoolConfig& pool_config() const = 0;
  virtual const config::ServerConfig& config() const = 0;
  virtual const std::shared_ptr<const TlsContext>& tls_context() const = 0;
  // A request of a connection failed without reaching the server (counted for the pool).
  virtual void CountForwardError() = 0;
  // "server 'shard-0' (127.0.0.1:7001) in pool 'alpha'": every log line about a server says
  // where it is, as connected to at `address`.
  virtual std::string Where(const SocketAddress& address) const = 0;
  // The server's reply to the proxy's own `command` (AUTH or SELECT) on a connection at
  // `address`. Returns whether requests may use the connection.
  virtual bool AcceptHandshakeReply(const SocketAddress& address, std::string_view command,
                                    std::string_view reply) = 0;
  virtual void LogConnectFailure(const SocketAddress& address, const std::string& why) = 0;
  // The connection is closing; `error` (a negative errno) counts as a failure when non-zero.
  virtual void OnConnectionClosed(ServerConnection* connection, int error) = 0;

 protected:
  explicit ServerLink(std::shared_ptr<ServerStats> stats) : stats_(std::move(stats)) {}
  ~ServerLink() = default;
  virtual void OnErrorResponse(std::string_view reply) = 0;

  uint32_t failures_ = 0;  // in a row, since the last reply that said the server works

 private:
  std::shared_ptr<ServerStats> stats_;
};

}  // namespace ringproxy::proxy
