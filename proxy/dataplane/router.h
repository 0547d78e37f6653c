// Router: where one client request goes, decided from the command, its arguments, the client's
// session and the pool's placement, and nothing else. It returns a RouteDecision and does not act
// on it: the client connection does. No socket, loop or server is touched here, so every
// decision is unit-tested without an event loop (tests/proxy/router_test.cc).
//
// The request path through one worker, with the function of each stage:
//
//   client socket
//     | ClientConnection::OnRead          Stream::Deliver: the bytes, in the worker's scratch
//     |                                   buffer or after those carried over (TLS: Stream::ReadTls
//     |                                   decrypts first)
//     | RequestParser::Parse              framing: argument offsets, nothing copied
//     | ClientConnection::Dispatch        single-key command: ServerPool::ServerForKey inline,
//     |                                   no Router call, no allocation (the hot path)
//     | Router::Route                     everything else: a RouteDecision
//     | ClientConnection::Execute         Forward / Split / FanOut / answer locally / queue in a
//     |                                   MULTI / pin for WATCH
//     | Server::Send                      picks the connection (the client's, or its pinned one)
//     | ServerConnection::Enqueue         request bytes appended, Fragment onto the FIFO
//     | Worker::OnCheck                   once per loop iteration:
//     | ServerConnection::Flush           Stream::Write: one write of everything queued
//   server socket
//     | ServerConnection::OnRead          Stream::Deliver, as for the client
//     | ServerConnection::ProcessReplies  ReplyScanner::Scan frames each reply; the FIFO's head
//     |                                   is popped *before* its request is told
//     | WorkerContext::CompleteFragment   the Worker's settler (Worker::SettleFragment):
//     |                                   Request::OnFragmentReply merges split replies
//     | ClientConnection::CompleteHead    in request order: the head's reply goes straight to
//     | ClientConnection::OnRequestDone   the output; a reply behind an unfinished one waits
//     | Worker::OnCheck
//     | ClientConnection::Flush           Stream::Write: one write of every reply ready
//   client socket
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/pool_config.h"
#include "dataplane/client_session.h"
#include "dataplane/command_table.h"
#include "hashing/placement.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

enum class Route : uint8_t {
  kForward,      // the request, verbatim, to `server`
  kSplit,        // one fragment per server (MGET, MSET, DEL ...): key_servers() says where each
                 // key goes, `merge` how the replies combine
  kFanOut,       // the request, verbatim, to every live server; replies combined by `merge`
  kLocal,        // answered by the proxy (the spec's LocalCommand)
  kReject,       // answered with `error`; the connection stays open
  kMulti,        // start queueing a transaction
  kQueue,        // inside MULTI: queue the request; `server` is where its keys live
                 // (kNoServerYet: keyless, it goes wherever the transaction goes)
  kQueueReject,  // inside MULTI: answer `error`, and EXEC will answer EXECABORT
  kExec,         // run the transaction on `server` (kNoServerYet: no key decided one)
  kExecAbort,    // EXEC of a transaction that had a command refused, or EXEC refused itself:
                 // the transaction ends with `error`
  kDiscard,      // drop the transaction (and any WATCH)
  kWatch,        // WATCH the keys on `server`: pins a server connection to the client
  kUnwatch,      // forget every WATCH
  kScan,         // SCAN on `server` from its own `cursor` (scan_cursor.h); the reply's cursor is
                 // the pool's
  kAnyServer,    // the request, verbatim, to any live server: one whose arguments Redis refuses
                 // by themselves, so that the client gets Redis's own error
  kBlocking,     // a blocking command (BLPOP, XREAD BLOCK, WAIT ...): to `server` (kNoServerYet:
                 // any live one) on a connection of the client's own while it blocks, for up to
                 // `block_timeout_ns`
  kPubSub,       // the spec's pub/sub command (or RESET), carried out by the client connection
                 // with its pool's PubSubHub; PUBLISH and SPUBLISH go to `server`, the channel's
};

struct RouteDecision {
  Route route = Route::kReject;
  CommandClass command_class = CommandClass::kRejected;
  MergeKind merge = MergeKind::kForward;
  uint32_t server = kNoServerYet;
  // kReject: no live server for a key (counted as nutcracker's forward_error).
  bool no_server = false;
  // kFanOut: to every configured server, ejected ones too, rather than the live ones: an answer
  // about the pool's whole keyspace that left a server out would be silently wrong.
  bool every_server = false;
  uint64_t cursor = 0;  // kScan: the server's own cursor
  // kBlocking: how long the server may take to answer beyond the pool's timeout (the command's
  // own timeout; kBlockForever for 0, as Redis reads it).
  uint64_t block_timeout_ns = 0;
  // kBlocking: the connection is the one the client's requests to `server` took so far (WAIT
  // counts the writes it carried), taken from the others; otherwise a fresh one.
  bool takes_usual_connection = false;
  std::string error;  // kReject, kQueueReject, kExecAbort: the text after '-'
};

inline constexpr uint64_t kBlockForever = UINT64_MAX / 4;

// What the Router sees of the pool and the client beyond the command.
struct RouteContext {
  const hashing::Placement* placement;
  const ClientSession* session;
  bool auth_required;  // the pool has redis_auth and the client has not authenticated
  const config::PoolConfig* pool = nullptr;  // its refuse_scripts and allow_flush; null: refuses
                                             // no script, allows no flush
  uint32_t server_count = 0;                 // the pool's servers, live or not (SCAN's cursor)
};

class Router {
 public:
  // `spec` is null when the command is unknown. `args[0]` is the command name.
  RouteDecision Route(const CommandSpec* spec, std::span<const std::string_view> args,
                      const RouteContext& context);

  // After kSplit: the server of each key, in key order (MSET: of each pair).
  std::span<const uint32_t> key_servers() const { return key_servers_; }
  // After kSplit: arguments per key (1, or 2 for MSET's pairs).
  size_t split_step() const { return split_step_; }

 private:
  RouteDecision RouteOutsideMulti(const CommandSpec& spec, std::span<const std::string_view> args,
                                  const RouteContext& context);
  RouteDecision RouteInsideMulti(const CommandSpec& spec, std::span<const std::string_view> args,
                                 const RouteContext& context);
  // The one server all of the command's keys map to: kOneServer with *server set, kKeyless for
  // a command that names no key, kServerRefuses for arguments Redis refuses by themselves before
  // touching any key (a numkeys that is not a count of the keys that follow, XREAD's unbalanced
  // STREAMS): any server answers them with Redis's own error; or a rejection in *decision.
  enum class KeysOn : uint8_t { kOneServer, kKeyless, kServerRefuses, kRejected };
  KeysOn ServerOfKeys(const CommandSpec& spec, std::span<const std::string_view> args,
                      const RouteContext& context, uint32_t* server, RouteDecision* decision);
  RouteDecision Split(const CommandSpec& spec, std::span<const std::string_view> args,
                      const RouteContext& context);
  // kPool commands: the pool's keyspace, or WAIT.
  static RouteDecision PoolWide(const CommandSpec& spec, std::span<const std::string_view> args,
                                const RouteContext& context);
  static RouteDecision Wait(std::span<const std::string_view> args, const RouteContext& context);
  RouteDecision Blocking(const CommandSpec& spec, std::span<const std::string_view> args,
                         const RouteContext& context);
  // kPubSub commands, and the commands a RESP2 client in subscribed mode may not send.
  RouteDecision PubSub(const CommandSpec& spec, std::span<const std::string_view> args,
                       const RouteContext& context);

  std::vector<uint32_t> keys_;         // scratch: key indices of the current request
  std::vector<uint32_t> key_servers_;  // kSplit's result
  size_t split_step_ = 1;
};

// Whether a RESP2 client with subscriptions may send `spec` (Redis allows only these then).
bool AllowedInSubscribedMode(const CommandSpec& spec);
// Redis 7.0's refusal (without '-') of any other command in RESP2 subscribed mode.
std::string SubscribedModeError(const CommandSpec& spec, std::span<const std::string_view> args);

// Redis's reply text (without '-') for a command it does not know.
std::string UnknownCommandError(std::span<const std::string_view> args);

}  // namespace ringproxy::proxy
