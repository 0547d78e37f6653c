// FakeShard: a Redis stand-in for the connection fuzzer, a TCP server on 127.0.0.1 (an ephemeral
// port) served by the caller's libuv loop. It checks what the proxy sends it and answers every
// request at once with a reply derived from the request alone, so the fuzzer can tell from a reply
// which request it belongs to:
//   MGET k1..kn          -> an array: "v:<k>" per key, nil for a key starting with "nil"
//   MSET ...             -> +OK
//   DEL/EXISTS/TOUCH/UNLINK k1..kn -> :n
//   AUTH/SELECT (the proxy's handshake) -> +OK
//   anything else        -> the bulk string "echo:" followed by every argument, space-separated
//   (any of the above whose first key starts with "err" -> "-ERR fake <command>")
//
// What the proxy sends must be well-formed multibulk (never inline, never empty), name commands
// it may forward, and carry only keys this shard owns; a violation is a FUZZ_CHECK failure.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hashing/placement.h"
#include "dataplane/command_table.h"

namespace ringproxy::fuzz {

class FakeShard {
 public:
  // `index` is this shard's place in its pool's server list. Lives as long as `loop` runs.
  FakeShard(uv_loop_t* loop, uint32_t index);
  FakeShard(const FakeShard&) = delete;
  FakeShard& operator=(const FakeShard&) = delete;

  // Binds 127.0.0.1:0 and listens. False (with `error`) when that fails.
  bool Listen(std::string* error);
  uint16_t port() const { return port_; }

  // The reply a shard gives to `args` (shared with the fuzzer, which predicts it).
  static std::string ReplyTo(const std::vector<std::string_view>& args);
  // The keys of `args`, or false when the command has none a shard could own.
  static bool KeysOf(const proxy::CommandSpec& spec, const std::vector<std::string_view>& args,
                     std::vector<std::string_view>* keys);

  // The pool's placement, once the topology exists (it needs the shards' ports); it must outlive
  // the shard. Until then no request may arrive.
  void set_placement(const hashing::Placement* placement) { placement_ = placement; }

 private:
  struct Connection;

  void OnConnection();
  void OnRead(Connection* connection, ssize_t nread, const uv_buf_t* buf);
  // Checks one request from the proxy and appends its reply to `out`.
  void Answer(const std::vector<std::string_view>& args, std::string* out);

  uv_loop_t* loop_;
  const hashing::Placement* placement_ = nullptr;
  uint32_t index_;
  uv_tcp_t server_{};
  uint16_t port_ = 0;
  char read_buffer_[64 << 10];
};

}  // namespace ringproxy::fuzz
