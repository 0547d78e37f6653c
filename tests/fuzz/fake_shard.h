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
//   blocking commands    -> at once, as if the first key had data ("v:<key>"; BLPOP/BRPOP
//                           [key, value], BLMOVE/BRPOPLPUSH the value, BZPOP* [key, value, "1"],
//                           BLMPOP/BZMPOP [key, [value...]]) or, for a key starting with "nil",
//                           as if the timeout ran out (nil); XREAD/XREADGROUP BLOCK -> the echo
//   CLIENT ID            -> :<index+1>; CLIENT UNBLOCK -> :0
//   (P|S)(UN)SUBSCRIBE <name> -> Redis's RESP2 confirmation "*3 <type> <name> :<count>", the count
//                           the connection's (channels and patterns; shard channels apart)
//   PUBLISH/SPUBLISH     -> :0
//   anything else        -> the bulk string "echo:" followed by every argument, space-separated
//   (a keyed command whose first key starts with "err" -> "-ERR fake <command>")
//
// A connection on which the proxy said HELLO 3 (the last step of its handshake) is answered in
// RESP3, in forms chosen to exercise framing and to tell the two protocols apart, so that a
// request carried on the wrong protocol's connection gets a reply its client does not expect:
//   HELLO 2/3            -> Redis's map of seven pairs (an array of fourteen in RESP2)
//   the echo, MGET values -> "echo3:..." and "v3:<k>"; MGET's nil is "_"
//   EXEC after a dirty WATCH -> "_"
//   by the first key's prefix (Resp3Form; "attr" and "push" stack with the others):
//     attr  -> the reply of the rest of the key behind an attribute "|1 +key <key>" (also on an
//              MGET value); push -> a push frame ">3 message chan <key>" before the reply, which
//              the proxy must drop; berr -> a blob error "!"; nil -> "_"; map -> a map with a set
//              inside; set -> a set; dbl -> a double; bool -> a boolean; big -> a big number;
//              verb -> a verbatim string
// RESP2 connections get exactly the replies above, as before HELLO existed.
//
// What the proxy sends must be well-formed multibulk (never inline, never empty), name commands
// it may forward (inside MULTI, commands it may queue), and carry only keys this shard owns;
// AUTH/SELECT only as the first commands of a connection, HELLO 3 only after them and before any
// request, or HELLO 2/3 on a connection pinned by a WATCH (it follows its client's protocol);
// INFO keyspace and COMMAND INFO (read by the proxy itself) only on RESP2 connections; EXEC
// only to end a MULTI, never DISCARD (the proxy discards a transaction itself); a blocking
// command (XREAD/XREADGROUP with BLOCK too) outside MULTI only on a connection the proxy asked
// CLIENT ID on (it takes a connection for the blocked client alone and asks once, right before
// the first blocking command), CLIENT ID at most once per connection and followed by a blocking
// command; (P|S)(UN)SUBSCRIBE one name at a time on a RESP2 connection outside MULTI, WATCH and
// blocking that then carries nothing but them (the proxy's subscriber connection), a channel or
// shard channel on the shard that owns it; PUBLISH/SPUBLISH likewise on the channel's shard.
// A violation is a FUZZ_CHECK failure.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/command_table.h"
#include "dataplane/protocol.h"
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

  // The reply any shard gives to the keyed or queued command `args` on a connection of
  // `protocol` (shared with the fuzzer, which predicts it).
  static std::string ReplyTo(const std::vector<std::string_view>& args, proxy::Protocol protocol);
  // The push frame a RESP3 connection sends ahead of that reply (empty for none): the proxy
  // must drop it.
  static std::string PushBefore(const std::vector<std::string_view>& args,
                                proxy::Protocol protocol);
  // The reply shard `shard` gives to a fan-out subcommand (`sub` of `args[0]`).
  static std::string FanOutReply(const proxy::FanOutSpec& sub,
                                 const std::vector<std::string_view>& args, uint32_t shard,
                                 proxy::Protocol protocol);
  // The nil EXEC answers when a WATCHed key was modified.
  static std::string_view NullArray(proxy::Protocol protocol) {
    return protocol == proxy::Protocol::kResp3 ? "_\r\n" : "*-1\r\n";
  }
  // The reply shard `shard` gives to INFO keyspace.
  static std::string KeyspaceReply(uint32_t shard);
  // SCAN, DBSIZE, KEYS, RANDOMKEY, FLUSH*, WAIT: an empty shard's answer.
  static std::string PoolReply(const proxy::CommandSpec& spec);
  // The keys of `args`, or false when the command has none a shard could own.
  static bool KeysOf(const proxy::CommandSpec& spec, const std::vector<std::string_view>& args,
                     std::vector<std::string_view>* keys);
  // Arguments Redis refuses by themselves, before touching a key (a numkeys that does not count
  // the keys after it, XREAD's unbalanced STREAMS): the proxy sends them to any shard, which
  // answers with an error (ReplyTo), at once and queued alike.
  static bool RefusesArguments(const proxy::CommandSpec& spec,
                               const std::vector<std::string_view>& args);

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
  // HELLO: as the handshake's last step, or on a pinned connection following its client.
  void Hello(Connection* connection, const std::vector<std::string_view>& args, std::string* out);
  // (P|S)(UN)SUBSCRIBE on the proxy's subscriber connection: Redis's RESP2 confirmation.
  void Subscriber(Connection* connection, const proxy::CommandSpec& spec,
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
