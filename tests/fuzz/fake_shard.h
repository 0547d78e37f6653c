// FakeShard: a Redis stand-in for the connection fuzzer, a TCP server on 127.0.0.1 (an ephemeral
// port) served by the caller's libuv loop. It checks what the proxy sends it and answers every
// request at once with a reply derived from the request alone (and, for the commands the proxy
// sends to every shard, from the shard's index), so the fuzzer can tell from a reply which
// request it belongs to:
//   MGET k1..kn          -> an array: "v:<k>" per key, nil for a key starting with "nil"
//   MSET ...             -> +OK
//   DEL/EXISTS/TOUCH/UNLINK k1..kn -> :n
//   AUTH/SELECT (the proxy's handshake) -> +OK
//   MULTI ... EXEC       -> +OK, +QUEUED per command, then EXEC's array of the commands' replies
//                           (nil when a WATCHed key starts with "dirty": such a key counts as
//                           modified by someone else, so the WATCH has to be on the connection
//                           that carries the transaction for the nil to appear)
//   WATCH k.. / UNWATCH  -> +OK
//   inside MULTI only: PING -> +PONG or its argument, ECHO -> its argument, UNWATCH -> +OK
//   SCRIPT/FUNCTION fan-out subcommands (FanOutReply): LOAD/LIST -> the echo below (the same on
//                           every shard), EXISTS -> :1/:0 per SHA, FLUSH/DELETE/RESTORE -> +OK,
//                           KILL -> -NOTBUSY (FUNCTION KILL: +OK on shard 0, which runs one)
//   INFO keyspace        -> a bulk "# Keyspace\r\n..." with figures per shard (KeyspaceReply)
//   SCAN, DBSIZE, KEYS, RANDOMKEY, FLUSHDB/FLUSHALL, WAIT -> an empty shard's answer (PoolReply)
//   anything else        -> the bulk string "echo:" followed by every argument, space-separated
//   (a keyed command whose first key starts with "err" -> "-ERR fake <command>")
//
// What the proxy sends must be well-formed multibulk (never inline, never empty), name commands
// it may forward (inside MULTI, commands it may queue), and carry only keys this shard owns;
// AUTH/SELECT only as the first commands of a connection, EXEC only to end a MULTI, never
// DISCARD (the proxy discards a transaction itself). A violation is a FUZZ_CHECK failure.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/command_table.h"
#include "hashing/placement.h"

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

  // The reply any shard gives to the keyed or queued command `args` (shared with the fuzzer,
  // which predicts it).
  static std::string ReplyTo(const std::vector<std::string_view>& args);
  // The reply shard `shard` gives to a fan-out subcommand (`sub` of `args[0]`).
  static std::string FanOutReply(const proxy::FanOutSpec& sub,
                                 const std::vector<std::string_view>& args, uint32_t shard);
  // The reply shard `shard` gives to INFO keyspace.
  static std::string KeyspaceReply(uint32_t shard);
  // SCAN, DBSIZE, KEYS, RANDOMKEY, FLUSH*, WAIT: an empty shard's answer.
  static std::string PoolReply(const proxy::CommandSpec& spec);
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
  void Answer(Connection* connection, const std::vector<std::string_view>& args, std::string* out);
  // A command inside MULTI: checked as one the proxy may queue, answered +QUEUED.
  void Queue(Connection* connection, const proxy::CommandSpec& spec,
             const std::vector<std::string_view>& args, std::string* out);
  // Every key of a keyed command must be this shard's.
  void CheckKeys(const proxy::CommandSpec& spec, const std::vector<std::string_view>& keys);

  uv_loop_t* loop_;
  const hashing::Placement* placement_ = nullptr;
  uint32_t index_;
  uv_tcp_t server_{};
  uint16_t port_ = 0;
  char read_buffer_[64 << 10];
};

}  // namespace ringproxy::fuzz
