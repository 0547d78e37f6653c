#include "dataplane/router.h"

#include <cstdlib>

#include "base/ascii.h"
#include "dataplane/scan_cursor.h"
#include "dataplane/script_policy.h"
#include "hashing/continuum.h"

namespace ringproxy::proxy {
namespace {

constexpr uint32_t kNoServer = hashing::Continuum::kNoServer;
static_assert(kNoServer == kNoServerYet, "one 'no server' value for placements and sessions");

RouteDecision Reject(std::string text) {
  RouteDecision decision;
  decision.route = Route::kReject;
  decision.command_class = CommandClass::kRejected;
  decision.error = std::move(text);
  return decision;
}

RouteDecision NoServer() {
  RouteDecision decision = Reject("ERR no server available for key");
  decision.no_server = true;
  return decision;
}

RouteDecision To(Route route, CommandClass command_class, uint32_t server = kNoServerYet) {
  RouteDecision decision;
  decision.route = route;
  decision.command_class = command_class;
  decision.server = server;
  return decision;
}

std::string WrongArity(std::string_view name) {
  return "ERR wrong number of arguments for '" + std::string(name) + "' command";
}

std::string NotSupported(std::string_view name) {
  return "ERR " + ascii::Upper(name) + " is not supported through the proxy";
}

std::string CrossSlot(std::string_view what) {
  return "CROSSSLOT Keys in request don't hash to the same server (" + std::string(what) +
         " through the proxy needs all its keys on one server: use a hash tag)";
}

// Inside MULTI a refusal also dooms the transaction, as Redis flags it: EXEC answers EXECABORT.
RouteDecision RefuseQueued(RouteDecision decision) {
  decision.route = Route::kQueueReject;
  decision.command_class = CommandClass::kTransaction;
  return decision;
}

RouteDecision ExecAbort(std::string text) {
  RouteDecision decision = To(Route::kExecAbort, CommandClass::kTransaction);
  decision.error = std::move(text);
  return decision;
}

// XREAD and XREADGROUP block only with a BLOCK option before STREAMS.
bool BlockingStreamRead(const CommandSpec& spec, std::span<const std::string_view> args) {
  if (spec.key_pattern != KeyPattern::kXread && spec.key_pattern != KeyPattern::kXreadGroup) {
    return false;
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg.size() == 7 && ascii::Upper(arg) == "STREAMS") return false;
    if (arg.size() == 5 && ascii::Upper(arg) == "BLOCK") return true;
  }
  return false;
}

// A timeout argument of `scale` nanoseconds per unit; 0 blocks for ever. One that Redis will
// refuse at once (not a number, negative) gets no extra time.
uint64_t TimeoutNs(std::string_view text, double scale) {
  const std::string copy(text.substr(0, 64));
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !(value >= 0)) return 0;
  if (value == 0) return kBlockForever;
  const double ns = value * scale;
  return ns >= static_cast<double>(kBlockForever) ? kBlockForever : static_cast<uint64_t>(ns);
}

// A blocking command's own timeout: seconds (a decimal number) in its timeout argument, or BLOCK's
// milliseconds for XREAD and XREADGROUP.
uint64_t BlockTimeoutNs(const CommandSpec& spec, std::span<const std::string_view> args) {
  std::string_view text = args.back();
  double scale = 1e9;
  if (spec.key_pattern == KeyPattern::kXread || spec.key_pattern == KeyPattern::kXreadGroup) {
    for (size_t i = 1; i + 1 < args.size(); ++i) {
      if (args[i].size() == 7 && ascii::Upper(args[i]) == "STREAMS") break;
      if (args[i].size() == 5 && ascii::Upper(args[i]) == "BLOCK") text = args[i + 1];
    }
    scale = 1e6;
  } else if (spec.key_pattern == KeyPattern::kNumkeys) {
    text = args[1];  // BLMPOP, BZMPOP: timeout numkeys key ...
  }
  return TimeoutNs(text, scale);
}

CommandClass SplitClass(CommandKind kind) {
  switch (kind) {
    case CommandKind::kSplitGet:
      return CommandClass::kSplitGet;
    case CommandKind::kSplitSet:
      return CommandClass::kSplitSet;
    default:
      return CommandClass::kSplitCount;
  }
}

MergeKind SplitMerge(CommandKind kind) {
  switch (kind) {
    case CommandKind::kSplitGet:
      return MergeKind::kArray;
    case CommandKind::kSplitSet:
      return MergeKind::kAllOk;
    default:
      return MergeKind::kSum;
  }
}

}  // namespace

std::string UnknownCommandError(std::span<const std::string_view> args) {
  std::string text = "ERR unknown command '";
  text.append(args[0].substr(0, 128));
  text += "', with args beginning with: ";
  size_t budget = 128;
  for (size_t i = 1; i < args.size() && budget > 0; ++i) {
    const std::string_view arg = args[i].substr(0, budget);
    text += "'";
    text.append(arg);
    text += "' ";
    budget -= arg.size();
  }
  return text;
}

RouteDecision Router::Route(const CommandSpec* spec, std::span<const std::string_view> args,
                            const RouteContext& context) {
  const bool in_multi = context.session->transaction.active;
  if (spec == nullptr) {
    RouteDecision decision = Reject(UnknownCommandError(args));
    return in_multi ? RefuseQueued(std::move(decision)) : decision;
  }
  if (!ArityOk(*spec, args.size())) {
    RouteDecision decision = Reject(WrongArity(spec->name));
    if (!in_multi) return decision;
    // As Redis: an EXEC refused inside MULTI ends the transaction at once, saying why.
    if (spec->local == LocalCommand::kExec) {
      return ExecAbort("EXECABORT Transaction discarded because of: " + decision.error.substr(4));
    }
    return RefuseQueued(std::move(decision));
  }
  if (context.auth_required && spec->local != LocalCommand::kAuth &&
      spec->local != LocalCommand::kHello && spec->local != LocalCommand::kQuit) {
    return Reject("NOAUTH Authentication required.");
  }
  if (spec->kind == CommandKind::kPubSub ||
      (context.session->subscriptions > 0 && context.session->protocol == Protocol::kResp2)) {
    return PubSub(*spec, args, context);
  }
  // Before any fan-out: with refuse_scripts no script can be running, so SCRIPT KILL goes too.
  if (context.pool != nullptr && ScriptsRefused(*context.pool, spec->name)) {
    RouteDecision decision = Reject(ScriptsRefusedError(spec->name));
    return in_multi ? RefuseQueued(std::move(decision)) : decision;
  }
  return in_multi ? RouteInsideMulti(*spec, args, context)
                  : RouteOutsideMulti(*spec, args, context);
}

RouteDecision Router::RouteOutsideMulti(const CommandSpec& spec,
                                        std::span<const std::string_view> args,
                                        const RouteContext& context) {
  // WAITAOF (Redis 7.2) is learned from the servers, which describe it as keyless: it counts
  // what WAIT counts, for the same server.
  if (spec.key_pattern == KeyPattern::kKeySpecs && spec.name == "waitaof") {
    return Wait(args, context);
  }
  switch (spec.kind) {
    case CommandKind::kSingleKey: {
      const uint32_t server = context.placement->ServerFor(args[spec.first_key]);
      if (server == kNoServer) return NoServer();
      return To(Route::kForward, CommandClass::kSingleKey, server);
    }
    case CommandKind::kMultiKey: {
      if (BlockingStreamRead(spec, args)) return Blocking(spec, args, context);
      uint32_t server = kNoServer;
      RouteDecision decision;
      switch (ServerOfKeys(spec, args, context, &server, &decision)) {
        case KeysOn::kRejected:
          return decision;
        case KeysOn::kServerRefuses:
          return To(Route::kAnyServer, CommandClass::kMultiKey);
        case KeysOn::kKeyless:
          return Reject("ERR " + ascii::Upper(spec.name) +
                        " without keys is not supported through the proxy: a key decides the "
                        "server");
        case KeysOn::kOneServer:
          return To(Route::kForward, CommandClass::kMultiKey, server);
      }
      break;
    }
    case CommandKind::kSplitGet:
    case CommandKind::kSplitSet:
    case CommandKind::kSplitCount:
      return Split(spec, args, context);
    case CommandKind::kLocal:
      return To(Route::kLocal, CommandClass::kLocal);
    case CommandKind::kTransaction:
      switch (spec.local) {
        case LocalCommand::kMulti:
          return To(Route::kMulti, CommandClass::kTransaction);
        case LocalCommand::kExec:
          return Reject("ERR EXEC without MULTI");
        case LocalCommand::kDiscard:
          return Reject("ERR DISCARD without MULTI");
        case LocalCommand::kUnwatch:
          return To(Route::kUnwatch, CommandClass::kTransaction);
        case LocalCommand::kWatch: {
          uint32_t server = kNoServer;
          RouteDecision decision;
          // WATCH's keys are its arguments: one server, or a rejection.
          if (ServerOfKeys(spec, args, context, &server, &decision) != KeysOn::kOneServer) {
            return decision;
          }
          const uint32_t watched = context.session->watch_server;
          if (watched != kNoServerYet && watched != server) {
            return Reject(CrossSlot("WATCH of keys already watched elsewhere"));
          }
          return To(Route::kWatch, CommandClass::kTransaction, server);
        }
        default:
          break;
      }
      break;
    case CommandKind::kFanOut: {
      const FanOutSpec* sub = FindFanOut(spec, args[1]);
      if (sub == nullptr) {
        return Reject("ERR " + ascii::Upper(spec.name) + " " + ascii::Upper(args[1]) +
                      " is not supported through the proxy");
      }
      if (!ArityOk(sub->arity, args.size())) {
        return Reject(WrongArity(std::string(spec.name) + "|" + std::string(sub->name)));
      }
      RouteDecision decision = To(Route::kFanOut, CommandClass::kFanOut);
      decision.merge = sub->merge;
      return decision;
    }
    case CommandKind::kBlocking:
      return Blocking(spec, args, context);
    case CommandKind::kPool:
      return PoolWide(spec, args, context);
    case CommandKind::kUnsupported:
    case CommandKind::kPubSub:  // Route's
      return Reject(NotSupported(spec.name));
  }
  return Reject(NotSupported(spec.name));
}

RouteDecision Router::RouteInsideMulti(const CommandSpec& spec,
                                       std::span<const std::string_view> args,
                                       const RouteContext& context) {
  const Transaction& transaction = context.session->transaction;
  switch (spec.kind) {
    case CommandKind::kTransaction:
      switch (spec.local) {
        case LocalCommand::kMulti:
          // As Redis: refused, but the transaction stays good.
          return Reject("ERR MULTI calls can not be nested");
        case LocalCommand::kWatch:
          return Reject("ERR WATCH inside MULTI is not allowed");
        case LocalCommand::kExec: {
          if (transaction.failed) {
            return ExecAbort("EXECABORT Transaction discarded because of previous errors.");
          }
          const uint32_t server = transaction.server != kNoServerYet
                                      ? transaction.server
                                      : context.session->watch_server;
          return To(Route::kExec, CommandClass::kTransaction, server);
        }
        case LocalCommand::kDiscard:
          return To(Route::kDiscard, CommandClass::kTransaction);
        case LocalCommand::kUnwatch:
          // Queued, as Redis does; EXEC unwatches anyway.
          return To(Route::kQueue, CommandClass::kTransaction);
        default:
          break;
      }
      break;
    case CommandKind::kLocal:
      switch (spec.local) {
        case LocalCommand::kQuit:
          // Redis runs QUIT at once, inside MULTI too.
          return To(Route::kLocal, CommandClass::kLocal);
        case LocalCommand::kPing:
        case LocalCommand::kEcho:
          // Keyless: they go with the transaction and answer inside EXEC's reply.
          return To(Route::kQueue, CommandClass::kTransaction);
        default:
          // Connection state (AUTH, SELECT, CLIENT, HELLO) and the proxy's own answers (INFO,
          // COMMAND) have no place in a block sent to one server.
          return RefuseQueued(Reject("ERR " + ascii::Upper(spec.name) +
                                     " inside MULTI is not supported through the proxy"));
      }
    case CommandKind::kFanOut:
    case CommandKind::kPool:
      return RefuseQueued(Reject("ERR " + ascii::Upper(spec.name) +
                                 " inside MULTI is not supported through the proxy"));
    case CommandKind::kUnsupported:
    case CommandKind::kPubSub:  // Route's
      return RefuseQueued(Reject(NotSupported(spec.name)));
    case CommandKind::kSingleKey:
    case CommandKind::kMultiKey:
    case CommandKind::kBlocking:  // as Redis: inside MULTI it does not block
    case CommandKind::kSplitGet:
    case CommandKind::kSplitSet:
    case CommandKind::kSplitCount: {
      if (spec.kind == CommandKind::kSplitSet && (args.size() - 1) % 2 != 0) {
        return RefuseQueued(Reject(WrongArity(spec.name)));
      }
      uint32_t server = kNoServer;
      RouteDecision decision;
      switch (ServerOfKeys(spec, args, context, &server, &decision)) {
        case KeysOn::kRejected:
          return RefuseQueued(std::move(decision));
        case KeysOn::kServerRefuses:
          // As Redis: queued, and EXEC's reply holds the error in its place.
          return To(Route::kQueue, CommandClass::kTransaction, transaction.server);
        case KeysOn::kKeyless:
          return To(Route::kQueue, CommandClass::kTransaction);
        case KeysOn::kOneServer:
          break;
      }
      const uint32_t watched = context.session->watch_server;
      if ((transaction.server != kNoServerYet && transaction.server != server) ||
          (watched != kNoServerYet && watched != server)) {
        return RefuseQueued(Reject(CrossSlot("a transaction")));
      }
      return To(Route::kQueue, CommandClass::kTransaction, server);
    }
  }
  return RefuseQueued(Reject(NotSupported(spec.name)));
}

Router::KeysOn Router::ServerOfKeys(const CommandSpec& spec, std::span<const std::string_view> args,
                                    const RouteContext& context, uint32_t* server,
                                    RouteDecision* decision) {
  if (spec.kind == CommandKind::kSingleKey) {
    *server = context.placement->ServerFor(args[spec.first_key]);
    if (*server == kNoServer) {
      *decision = NoServer();
      return KeysOn::kRejected;
    }
    return KeysOn::kOneServer;
  }
  keys_.clear();
  switch (CollectKeys(spec, args, &keys_)) {
    case KeyScan::kOk:
      break;
    case KeyScan::kNoKeys:
      return KeysOn::kKeyless;
    case KeyScan::kBadNumkeys:
      return KeysOn::kServerRefuses;
    case KeyScan::kWrongArity:
      *decision = Reject(WrongArity(spec.name));
      return KeysOn::kRejected;
    case KeyScan::kSyntaxError:
      // XREAD's forms are Redis's own to refuse. Key specifications learned from a server are
      // not: a form the proxy cannot follow might be one the server accepts, with keys the
      // proxy would then have sent to the wrong server.
      if (spec.key_pattern == KeyPattern::kXread || spec.key_pattern == KeyPattern::kXreadGroup) {
        return KeysOn::kServerRefuses;
      }
      *decision = Reject("ERR syntax error");
      return KeysOn::kRejected;
  }
  const uint32_t first = context.placement->ServerFor(args[keys_[0]]);
  for (size_t i = 1; i < keys_.size() && first != kNoServer; ++i) {
    if (context.placement->ServerFor(args[keys_[i]]) != first) {
      *decision = Reject(CrossSlot(ascii::Upper(spec.name)));
      return KeysOn::kRejected;
    }
  }
  if (first == kNoServer) {
    *decision = NoServer();
    return KeysOn::kRejected;
  }
  *server = first;
  return KeysOn::kOneServer;
}

RouteDecision Router::PoolWide(const CommandSpec& spec, std::span<const std::string_view> args,
                               const RouteContext& context) {
  RouteDecision decision = To(Route::kFanOut, CommandClass::kFanOut);
  decision.every_server = true;
  switch (spec.pool) {
    case PoolCommand::kScan: {
      if (context.server_count == 0) return Reject("ERR no server available");
      ScanCursor cursor;
      if (!ScanCursor::Decode(args[1], context.server_count, &cursor)) {
        return Reject("ERR invalid cursor");
      }
      decision = To(Route::kScan, CommandClass::kFanOut, cursor.server);
      decision.cursor = cursor.server_cursor;
      decision.merge = MergeKind::kScan;
      return decision;
    }
    case PoolCommand::kDbsize:
      decision.merge = MergeKind::kSum;
      return decision;
    case PoolCommand::kKeys:
      decision.merge = MergeKind::kConcat;
      return decision;
    case PoolCommand::kRandomKey:
      decision.merge = MergeKind::kRandomNonNull;
      return decision;
    case PoolCommand::kFlush:
      if (context.pool == nullptr || !context.pool->allow_flush) {
        return Reject("ERR " + ascii::Upper(spec.name) +
                      " is refused through this proxy: it would empty every server of the pool "
                      "(the pool's allow_flush lets it through)");
      }
      decision.merge = MergeKind::kAllOk;
      return decision;
    case PoolCommand::kWait:
      return Wait(args, context);
    case PoolCommand::kNone:
      break;
  }
  return Reject(NotSupported(spec.name));
}

RouteDecision Router::Blocking(const CommandSpec& spec, std::span<const std::string_view> args,
                               const RouteContext& context) {
  uint32_t server = kNoServer;
  RouteDecision decision;
  switch (ServerOfKeys(spec, args, context, &server, &decision)) {
    case KeysOn::kRejected:
      return decision;
    case KeysOn::kServerRefuses:
      // Refused before it could block.
      return To(Route::kAnyServer, CommandClass::kMultiKey);
    case KeysOn::kKeyless:
      return Reject("ERR syntax error");
    case KeysOn::kOneServer:
      break;
  }
  // The client's own connection holds its WATCH on another server: the command cannot run on
  // it, and unpinning would silently drop the WATCH.
  const uint32_t watched = context.session->watch_server;
  if (watched != kNoServerYet && watched != server) {
    return Reject(CrossSlot(ascii::Upper(spec.name) + " while WATCH holds keys on another server"));
  }
  decision = To(Route::kBlocking, CommandClass::kMultiKey, server);
  decision.block_timeout_ns = BlockTimeoutNs(spec, args);
  return decision;
}

RouteDecision Router::Wait(std::span<const std::string_view> args, const RouteContext& context) {
  // WAIT counts the replicas that acknowledged the client's writes, on the server that has them.
  // The client's usual connection to that server carries them (one connection per client and
  // server): WAIT must run on that connection, which the client takes as its own while WAIT
  // blocks, so that nobody else's requests wait behind it and the pool's timeout does not cut
  // it. A client that sent no keyed command has no server of its own: any live server answers,
  // as Redis answers a client with no writes (its replicas, which the pool's servers normally
  // have alike). Both take their timeout in milliseconds, last: WAIT numreplicas timeout,
  // WAITAOF numlocal numreplicas timeout.
  const uint32_t last = context.session->last_server;
  const bool has_server = last != kNoServerYet && last < context.server_count;
  RouteDecision decision =
      To(Route::kBlocking, CommandClass::kFanOut, has_server ? last : kNoServerYet);
  decision.block_timeout_ns = TimeoutNs(args.back(), 1e6);
  decision.takes_usual_connection = has_server;
  return decision;
}

RouteDecision Router::Split(const CommandSpec& spec, std::span<const std::string_view> args,
                            const RouteContext& context) {
  // MSET takes key/value pairs; the others one key per argument.
  split_step_ = spec.kind == CommandKind::kSplitSet ? 2 : 1;
  if ((args.size() - 1) % split_step_ != 0) return Reject(WrongArity(spec.name));
  const size_t key_count = (args.size() - 1) / split_step_;
  key_servers_.resize(key_count);
  bool one_server = true;
  for (size_t k = 0; k < key_count; ++k) {
    const uint32_t server = context.placement->ServerFor(args[1 + k * split_step_]);
    if (server == kNoServer) return NoServer();
    key_servers_[k] = server;
    one_server &= server == key_servers_[0];
  }
  const CommandClass command_class = SplitClass(spec.kind);
  // Every key on one server: no need to split.
  if (one_server) return To(Route::kForward, command_class, key_servers_[0]);
  RouteDecision decision = To(Route::kSplit, command_class);
  decision.merge = SplitMerge(spec.kind);
  return decision;
}

}  // namespace ringproxy::proxy

namespace ringproxy::proxy {

bool AllowedInSubscribedMode(const CommandSpec& spec) {
  switch (spec.local) {
    case LocalCommand::kSubscribe:
    case LocalCommand::kUnsubscribe:
    case LocalCommand::kPsubscribe:
    case LocalCommand::kPunsubscribe:
    case LocalCommand::kSsubscribe:
    case LocalCommand::kSunsubscribe:
    case LocalCommand::kPing:
    case LocalCommand::kQuit:
    case LocalCommand::kReset:
      return true;
    default:
      return false;
  }
}

std::string SubscribedModeError(const CommandSpec& spec, std::span<const std::string_view> args) {
  // Redis names the command as its table does: a container's subcommand as "container|sub".
  std::string name(spec.name);
  if (spec.key_pattern == KeyPattern::kSubcommand || spec.kind == CommandKind::kFanOut ||
      spec.local == LocalCommand::kClient || spec.local == LocalCommand::kCommand ||
      spec.local == LocalCommand::kPubsub) {
    if (args.size() >= 2) name += "|" + ascii::Lower(args[1]);
  }
  return "ERR Can't execute '" + name +
         "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
         "context";
}

RouteDecision Router::PubSub(const CommandSpec& spec, std::span<const std::string_view> args,
                             const RouteContext& context) {
  const ClientSession& session = *context.session;
  if (session.subscriptions > 0 && session.protocol == Protocol::kResp2 &&
      !AllowedInSubscribedMode(spec)) {
    return Reject(SubscribedModeError(spec, args));
  }
  const bool in_multi = session.transaction.active;
  if (spec.kind != CommandKind::kPubSub) {
    // PING or QUIT in subscribed mode: as ever.
    return in_multi ? RouteInsideMulti(spec, args, context)
                    : RouteOutsideMulti(spec, args, context);
  }
  const bool publish =
      spec.local == LocalCommand::kPublish || spec.local == LocalCommand::kSpublish;
  uint32_t server = kNoServerYet;
  if (publish) {
    server = context.placement->ServerFor(args[1]);
    if (server == kNoServer) return in_multi ? RefuseQueued(NoServer()) : NoServer();
  }
  if (in_multi && spec.local != LocalCommand::kReset) {
    if (!publish) {
      return RefuseQueued(Reject("ERR " + ascii::Upper(spec.name) +
                                 " inside MULTI is not supported through the proxy"));
    }
    // PUBLISH goes with the transaction, to its channel's server, whose count it returns.
    const Transaction& transaction = session.transaction;
    if ((transaction.server != kNoServerYet && transaction.server != server) ||
        (session.watch_server != kNoServerYet && session.watch_server != server)) {
      return RefuseQueued(Reject(CrossSlot("a transaction")));
    }
    return To(Route::kQueue, CommandClass::kTransaction, server);
  }
  return To(Route::kPubSub, publish ? CommandClass::kSingleKey : CommandClass::kLocal, server);
}

}  // namespace ringproxy::proxy
