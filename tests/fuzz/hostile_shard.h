// HostileShard: a Redis stand-in for the hostile-server fuzzer, a TCP server on 127.0.0.1 (an
// ephemeral port) served by the caller's libuv loop. It answers each request the proxy sends it
// with the next action of a script the fuzz input wrote: the correct reply, or bytes of the
// input's choosing instead, before or after it, or a FIN. It keeps, per connection, every request
// received and every byte sent, so that the fuzzer can work out which reply the proxy owes each
// request (the k-th reply framed in the stream belongs to the k-th request on that connection).
//
// The correct reply to GET <key> is the bulk "v:<key>", to the proxy's SELECT handshake "+OK".
// What the proxy sends must be well-formed multibulk GETs of keys this shard owns, each
// connection starting with its SELECT, and no GET before a reply accepting that SELECT was sent
// (a refused SELECT must not leave requests running in another database); a violation is a
// FUZZ_CHECK failure.
//
// A FIN (an action, or Finish()) is a half-close: the shard keeps reading until the proxy closes
// too, so that no request is lost to a reset and none of its replies is destroyed by one.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hashing/placement.h"

namespace ringproxy::fuzz {

class HostileShard {
 public:
  struct Action {
    enum class Kind : uint8_t {
      kCorrect,      // the correct reply
      kInstead,      // `bytes` instead of the reply
      kAfter,        // the correct reply, then `bytes`
      kBefore,       // `bytes`, then the correct reply
      kFinish,       // no reply: a FIN
      kFinishAfter,  // `bytes`, then a FIN
    };
    Kind kind = Kind::kCorrect;
    std::string bytes;
  };

  // One connection of the current input, as the shard saw it.
  struct Log {
    std::vector<std::string> requests;  // "SELECT" for the handshake, else the GET's key
    std::string sent;                   // every byte sent, in order
  };

  // `index` is this shard's place in its pool's server list. Lives as long as `loop` runs.
  HostileShard(uv_loop_t* loop, uint32_t index);
  HostileShard(const HostileShard&) = delete;
  HostileShard& operator=(const HostileShard&) = delete;

  // Binds 127.0.0.1:0 and listens. False (with `error`) when that fails.
  bool Listen(std::string* error);
  uint16_t port() const { return port_; }
  // The pool's placement, once the topology exists; it must outlive the shard.
  void set_placement(const hashing::Placement* placement) { placement_ = placement; }

  // A new input: its script (one action per request received, the correct reply once it runs
  // out), and empty logs. No connection may be open.
  void Begin(std::vector<Action> script);
  // Half-closes every open connection.
  void Finish();
  size_t open_connections() const { return open_; }
  // Every connection of the input, in the order they were accepted.
  const std::vector<std::unique_ptr<Log>>& logs() const { return logs_; }
  // Bumped on every read: the fuzzer waits for the proxy to settle by watching it.
  uint64_t activity() const { return activity_; }

  static std::string CorrectReply(std::string_view request);

 private:
  struct Connection;

  void OnConnection();
  void OnRead(Connection* connection, ssize_t nread, const uv_buf_t* buf);
  // Checks one request and appends what the script says to send to `out`; true for a FIN.
  bool Answer(Connection* connection, const std::vector<std::string_view>& args, std::string* out);
  void Send(Connection* connection, std::string bytes);
  void HalfClose(Connection* connection);
  void CloseConnection(Connection* connection);

  uv_loop_t* loop_;
  const hashing::Placement* placement_ = nullptr;
  uint32_t index_;
  uv_tcp_t server_{};
  uint16_t port_ = 0;
  std::deque<Action> script_;
  std::vector<std::unique_ptr<Log>> logs_;
  std::vector<Connection*> connections_;  // open ones
  size_t open_ = 0;
  uint64_t activity_ = 0;
  char read_buffer_[64 << 10];
};

}  // namespace ringproxy::fuzz
