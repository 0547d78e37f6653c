#include "dataplane/client_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>

#include "base/ascii.h"
#include "base/logger.h"
#include "dataplane/give_back.h"
#include "dataplane/info_reply.h"
#include "dataplane/local_commands.h"
#include "dataplane/pubsub_hub.h"
#include "dataplane/request.h"
#include "dataplane/resp_writer.h"
#include "dataplane/script_policy.h"
#include "dataplane/server.h"
#include "dataplane/server_connection.h"
#include "dataplane/server_pool.h"
#include "net/tls_session.h"

namespace ringproxy::proxy {
namespace {

constexpr size_t kMaxOutputReserve = 64u << 10;
// How long a half-closed client may take to close its side before we close ours anyway.
constexpr uint64_t kLingerMs = 2000;
// A request with more arguments than this leaves the parser's storage trimmed after it.
constexpr size_t kLargeRequestArgs = 1024;

constexpr std::string_view kMultiCommand = "*1\r\n$5\r\nMULTI\r\n";
constexpr std::string_view kExecCommand = "*1\r\n$4\r\nEXEC\r\n";
constexpr std::string_view kUnwatchCommand = "*1\r\n$7\r\nUNWATCH\r\n";
constexpr std::string_view kHello2Command = "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n";
constexpr std::string_view kHello3Command = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";

void EncodeCommand(std::span<const std::string_view> args, ByteBuffer* out) {
  resp::AppendArrayHeader(out, static_cast<int64_t>(args.size()));
  for (const std::string_view arg : args) resp::AppendBulk(out, arg);
}

// The client's address, for the log lines that name a client.
std::string PeerName(uv_stream_t* stream) {
  if (stream->type != UV_TCP) return "unix socket";
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getpeername(reinterpret_cast<uv_tcp_t*>(stream), reinterpret_cast<sockaddr*>(&address),
                         &length) != 0) {
    return "unknown address";
  }
  char host[64] = {};
  uint16_t port = 0;
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    uv_ip6_name(in6, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
  uv_ip4_name(in4, host, sizeof host);
  port = ntohs(in4->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

// Unique across workers (CLIENT ID, HELLO): one shared counter, touched once per accept.
uint64_t NextClientId() {
  static std::atomic<uint64_t> last_id{0};
  return last_id.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace

ClientConnection::ClientConnection(WorkerContext* context, ServerPool* pool, int workers)
    : context_(context),
      pool_(pool),
      stats_(&pool->stats()),
      workers_(workers),
      stream_(context->read_scratch(), this) {
  session_.id = NextClientId();
  reply_estimate_ = FlowControl::InitialReplyEstimate(pool->flow_limits());
  UpdatePlain();
  // Until it authenticates, a client of a pool with a password may send only small requests.
  parser_.set_limits(pool->config().redis_auth.empty() ? context->settings().limits
                                                       : RequestLimits::Unauthenticated());
}

ClientConnection::~ClientConnection() = default;

bool ClientConnection::Accept(uv_stream_t* listener, bool is_unix) {
  if (is_unix) {
    stream_.InitPipe(context_->loop());
  } else {
    stream_.InitTcp(context_->loop());
  }
  if (uv_accept(listener, stream_.get()) != 0) {
    Close();
    return false;
  }
  if (!is_unix) uv_tcp_nodelay(stream_.tcp(), 1);
  if (!pool_->AdmitClient()) {
    // Redis's reply at its maxclients; the connection ends once it is written (a FIN, not a
    // close with unread input, whose RST could destroy the error on its way). A TLS client gets
    // the FIN alone: the error could only follow a whole handshake, the very cost a full proxy
    // should not pay for each client it turns away.
    if (pool_->tls().clients == nullptr) {
      resp::AppendError(&out_, "ERR max number of clients reached");
    }
    state_ = State::kEnding;
    ScheduleFlush();
    return true;
  }
  counted_ = true;
  context_->UpdateClock();
  last_active_ns_ = last_progress_ns_ = accepted_ns_ = context_->now_ns();
  stats_->client_connections.Add(1);
  stats_->client_connections_total.Add();
  if (const std::shared_ptr<const TlsContext>& context = pool_->tls().clients) {
    stream_.set_tls(TlsSession::Accept(context));
    if (stream_.tls() == nullptr) {
      Close();
      return false;
    }
  }
  if (StartReading() != 0) {
    Close();
    return false;
  }
  reading_ = true;
  return true;
}

void ClientConnection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (state_ == State::kClosing) return;
  if (state_ == State::kHalfClosed) {
    if (nread < 0) Close();  // the client closed its side too: done
    return;                  // anything else it sends after our FIN is dropped
  }
  context_->UpdateClock();
  if (nread < 0) {
    if (nread == UV_EOF) {
      stats_->client_eof.Add();
      OnPeerFinished();
    } else {
      // A reset: nobody is left to read replies; requests still out become orphans.
      stats_->client_err.Add();
      Close();
    }
    return;
  }
  if (nread == 0) return;
  last_progress_ns_ = context_->now_ns();
  const auto n = static_cast<size_t>(nread);
  if (stream_.tls() != nullptr) {
    ReadTls(buf->base, n);
  } else {
    stream_.Deliver(this, buf->base, n);
  }
  AfterProgress();
}

void ClientConnection::OnPeerFinished() {
  // Send-then-half-close (`printf ... | nc -N`): what it sent before its FIN is answered, as
  // Redis does, then the connection closes. A request it left incomplete never will be.
  if (blocked_) {
    // As Redis: a blocked client that hangs up is gone, and its command with it.
    Close();
    return;
  }
  peer_finished_ = true;
  if (reading_) {
    stream_.StopReading();
    reading_ = false;
  }
  AfterProgress();
}

void ClientConnection::ReadTls(const char* data, size_t size) {
  TlsSession* tls = stream_.tls();
  if (!stream_.ReadTls(this, data, size)) {
    if (tls->closed_by_peer()) {
      stats_->client_eof.Add();
      OnPeerFinished();
    } else {
      // Routine for port scanners and plaintext clients: not worth more than an info line.
      RP_LOG(kLogInfo, "client %llu: TLS failed: %s", static_cast<unsigned long long>(session_.id),
             tls->error().c_str());
      stats_->client_err.Add();
      SendTlsAlert();
      Close();
    }
    return;
  }
  if (state_ != State::kClosing && tls->has_output()) ScheduleFlush();
}

bool ClientConnection::CanDispatch() const {
  return state_ == State::kOpen && hold_ == Hold::kNone && forwarding_ &&
         FlowControl::InFlightWithinWindow(Limits(), HeldBytes(), pending_, reply_estimate_);
}

size_t ClientConnection::DispatchLimit() const {
  // Held bytes and the estimate change only as replies arrive, never within one batch of
  // requests, so once per batch is enough.
  return FlowControl::DispatchLimit(Limits(), HeldBytes(), reply_estimate_);
}

size_t ClientConnection::ProcessRequests(const char* data, size_t size) {
  size_t offset = 0;
  processing_ = true;
  held_input_ = false;
  forwarding_ = FlowControl::ShouldForward(Limits(), Flow(), forwarding_);
  const size_t dispatch_limit = DispatchLimit();
  while (offset < size) {
    // One request may always be pending, however large its reply (the window's rule).
    if (state_ != State::kOpen || hold_ != Hold::kNone || !forwarding_ ||
        (pending_ >= dispatch_limit && pending_ > 0)) {
      held_input_ = state_ == State::kOpen;
      break;
    }
    const RequestParser::Status status = parser_.Parse(data + offset, size - offset);
    if (status == RequestParser::Status::kComplete) {
      if (!Dispatch(data + offset)) {
        held_input_ = true;  // framed again when the hold ends
        break;
      }
      offset += parser_.consumed();
      last_active_ns_ = context_->now_ns();
      if (parser_.argc() > kLargeRequestArgs) {
        parser_.TrimStorage();
        context_->TrimArgs();
      }
    } else if (status == RequestParser::Status::kEmpty) {
      offset += parser_.consumed();
    } else if (status == RequestParser::Status::kIncomplete) {
      break;
    } else {
      // As Redis: the error, then the connection closes once it is written.
      stats_->client_protocol_errors.Add();
      stats_->client_err.Add();
      ReplyError("ERR " + parser_.error());
      state_ = State::kEnding;
      offset = size;
    }
  }
  processing_ = false;
  // The batch may have filled what a client may have in flight: stop reading it then.
  if (reading_) UpdateReading();
  return offset;
}

void ClientConnection::ResumeInput() {
  resume_input_ = false;
  ByteBuffer& in = stream_.carried();
  if (processing_ || !held_input_ || in.empty() || !CanDispatch()) return;
  const size_t used = ProcessRequests(in.data(), in.size());
  // Taking nothing means what allowed the resume does not hold: wait for the next reply or
  // write, rather than resume again at once (which would spin the loop).
  resume_stalled_ = used == 0 && held_input_;
  if (TakingInput()) {
    in.Consume(used);
  } else {
    in.Release();
  }
  AfterProgress();
}

bool ClientConnection::Dispatch(const char* data) {
  const std::string_view raw(data, parser_.consumed());
  const CommandSpec* spec = LookupCommand(parser_.arg(data, 0));
  const size_t argc = parser_.argc();
  if (spec != nullptr && spec->kind == CommandKind::kSingleKey && ArityOk(*spec, argc) && plain_) {
    // The hot path: one key, routed by it, forwarded verbatim.
    const std::string_view key = parser_.arg(data, static_cast<size_t>(spec->first_key));
    const uint32_t index = pool_->placement().ServerFor(key);
    if (index == kNoServerYet) {
      stats_->forward_error.Add();
      ReplyError("ERR no server available for key");
      return true;
    }
    session_.last_server = index;  // WAIT goes there
    Server* server = &pool_->server(index);
    Request* request = Enqueue(CommandClass::kSingleKey, raw.size());
    request->pending = 1;
    Fragment* fragment = context_->NewFragment();
    fragment->request = request;
    SendTo(server, fragment, WireBytes(raw));
    return true;
  }

  if (spec == nullptr) {
    switch (LookUpLearned(parser_.arg(data, 0), &spec)) {
      case Learned::kRoute:
        break;
      case Learned::kAnswered:
        return true;
      case Learned::kHeld:
        return false;
    }
  }
  std::vector<std::string_view>& args = context_->args();
  args.clear();
  for (size_t i = 0; i < argc; ++i) args.push_back(parser_.arg(data, i));
  const RouteContext context{&pool_->placement(), &session_,
                             !pool_->config().redis_auth.empty() && !session_.authenticated,
                             &pool_->config(), static_cast<uint32_t>(pool_->server_count())};
  const RouteDecision decision = context_->router().Route(spec, args, context);
  return Execute(spec, decision, raw);
}

bool ClientConnection::SwitchesProtocol(std::span<const std::string_view> args) const {
  if (args.size() < 2) return false;
  const std::string_view current = session_.protocol == Protocol::kResp3 ? "3" : "2";
  return args[1] != current;
}

void ClientConnection::UpdatePlain() {
  plain_ = !session_.transaction.active &&
           (session_.authenticated || pool_->config().redis_auth.empty()) &&
           (session_.subscriptions == 0 || session_.protocol == Protocol::kResp3);
}

void ClientConnection::OnPoolChanged() {
  // A reload may have given the pool a password: the hot path must ask again.
  UpdatePlain();
}

bool ClientConnection::Execute(const CommandSpec* spec, const RouteDecision& decision,
                               std::string_view raw) {
  const bool taken = ExecuteDecision(spec, decision, raw);
  UpdatePlain();
  return taken;
}

bool ClientConnection::ExecuteDecision(const CommandSpec* spec, const RouteDecision& decision,
                                       std::string_view raw) {
  Transaction& transaction = session_.transaction;
  const bool needs_spec = decision.route == Route::kLocal || decision.route == Route::kBlocking ||
                          decision.route == Route::kPubSub;
  if (needs_spec && spec == nullptr) [[unlikely]] {
    // The Router takes these routes only for a command it knows.
    ReplyError("ERR unknown command");
    return true;
  }
  switch (decision.route) {
    case Route::kForward:
      // The server of the client's writes, for WAIT.
      session_.last_server = decision.server;
      Forward(decision.server, raw, decision.command_class);
      return true;
    case Route::kSplit:
      Split(decision);
      return true;
    case Route::kScan:
      Scan(decision);
      return true;
    case Route::kAnyServer: {
      const uint32_t server = pool_->AnyLiveServer();
      if (server == kNoServerYet) {
        stats_->forward_error.Add();
        ReplyError("ERR no server available");
        return true;
      }
      Forward(server, raw, decision.command_class);
      return true;
    }
    case Route::kFanOut:
      FanOut(decision, raw);
      return true;
    case Route::kLocal:
      if (spec->local == LocalCommand::kHello && SwitchesProtocol(context_->args()) &&
          pending_ > 0) {
        // Requests after the switch travel on the other protocol's server connections: they
        // must not overtake the ones in flight on this protocol's.
        hold_ = Hold::kUntilIdle;
        return false;
      }
      AnswerLocal(*spec);
      return true;
    case Route::kReject:
      if (decision.no_server) stats_->forward_error.Add();
      ReplyError(decision.error);
      return true;
    case Route::kMulti:
      transaction.active = true;
      ReplySimple("OK", CommandClass::kTransaction);
      return true;
    case Route::kQueue:
      QueueInTransaction(decision, raw);
      return true;
    case Route::kQueueReject:
      if (decision.no_server) stats_->forward_error.Add();
      transaction.failed = true;
      ReplyError(decision.error, CommandClass::kTransaction);
      return true;
    case Route::kExec:
      Exec(decision);
      return true;
    case Route::kExecAbort:
      DropTransaction();
      ReplyError(decision.error, CommandClass::kTransaction);
      return true;
    case Route::kDiscard:
      DropTransaction();
      ReplySimple("OK", CommandClass::kTransaction);
      return true;
    case Route::kWatch:
      return Watch(decision, raw);
    case Route::kUnwatch:
      Unwatch(raw);
      return true;
    case Route::kBlocking:
      return Block(*spec, decision, raw);
    case Route::kPubSub:
      return ExecutePubSub(*spec, decision, raw);
  }
  return true;
}

ClientConnection::Learned ClientConnection::LookUpLearned(std::string_view name,
                                                          const CommandSpec** spec) {
  // Only an authenticated client makes the proxy ask its servers anything, and only about a
  // name that could be a command: a stranger's garbage is an unknown command at once.
  if (!session_.authenticated && !pool_->config().redis_auth.empty()) return Learned::kRoute;
  if (!LearnedCommands::Learnable(name)) return Learned::kRoute;
  LearnedCommands& learned = pool_->learned();
  const LearnedCommands::Lookup lookup = learned.Find(name, context_->now_ms());
  switch (lookup.state) {
    case LearnedCommands::State::kKnown:
      *spec = lookup.spec;
      return Learned::kRoute;
    case LearnedCommands::State::kUnknown:
      return Learned::kRoute;
    case LearnedCommands::State::kFailed:
      ReplyError(lookup.error);
      return Learned::kAnswered;
    case LearnedCommands::State::kLearning:
      hold_ = Hold::kLearning;
      context_->clients()->WaitForLearning(this);
      return Learned::kHeld;
    case LearnedCommands::State::kAsk:
      break;
  }
  const std::vector<uint32_t> servers = pool_->LiveServers();
  if (servers.empty() || !learned.BeginLearning(name)) return Learned::kRoute;
  // Waiting before asking: a server that fails at once answers before Send returns.
  hold_ = Hold::kLearning;
  context_->clients()->WaitForLearning(this);
  // Every live server is asked: the first that knows the command describes it.
  Request* request = context_->NewRequest();
  request->learning_pool = pool_;
  request->BeginSplit(MergeKind::kLearn, static_cast<uint32_t>(servers.size()));
  const std::string lower = ascii::Lower(name);
  request->fragment_replies.back() = lower;
  ByteBuffer& encoded = context_->encode_buffer();
  encoded.Clear();
  const std::string_view command[] = {"COMMAND", "INFO", lower};
  EncodeCommand(command, &encoded);
  const std::string bytes(encoded.view());
  for (size_t f = 0; f < servers.size(); ++f) {
    Fragment* fragment = context_->NewFragment();
    fragment->request = request;
    fragment->index = static_cast<uint32_t>(f);
    // The proxy reads the answer itself (RespValue): RESP2, whatever the client speaks.
    pool_->server(servers[f]).Send(fragment, bytes, session_.id, Protocol::kResp2);
  }
  // Learned (or failed) already: look again, now that it is settled.
  if (hold_ != Hold::kLearning) return LookUpLearned(name, spec);
  return Learned::kHeld;
}

void ClientConnection::OnCommandLearned() {
  if (hold_ != Hold::kLearning || state_ == State::kClosing) return;
  hold_ = Hold::kNone;
  resume_stalled_ = false;
  AfterProgress();
}

std::string_view ClientConnection::WireBytes(std::string_view raw) {
  if (!parser_.is_inline()) return raw;
  // An inline command is re-encoded: the server's inline parsing is not ours to rely on.
  ByteBuffer& encoded = context_->encode_buffer();
  encoded.Clear();
  std::vector<std::string_view>& args = context_->args();
  args.clear();
  for (size_t i = 0; i < parser_.argc(); ++i) args.push_back(parser_.arg(raw.data(), i));
  EncodeCommand(args, &encoded);
  return encoded.view();
}

void ClientConnection::SendTo(Server* server, Fragment* fragment, std::string_view bytes) {
  // While a connection is pinned to the client, everything it sends that server goes there:
  // a client's commands reach a server in the order it sent them.
  if (pinned_server_ == server) {
    server->SendOn(pinned_, fragment, bytes);
    return;
  }
  server->Send(fragment, bytes, session_.id, session_.protocol);
}

void ClientConnection::Forward(uint32_t server, std::string_view raw, CommandClass command_class) {
  Request* request = Enqueue(command_class, raw.size());
  request->pending = 1;
  Fragment* fragment = context_->NewFragment();
  fragment->request = request;
  SendTo(&pool_->server(server), fragment, WireBytes(raw));
}

void ClientConnection::Split(const RouteDecision& decision) {
  const Router& router = context_->router();
  const std::span<const uint32_t> key_servers = router.key_servers();
  const size_t step = router.split_step();
  const std::vector<std::string_view>& args = context_->args();
  // Fragments in the order their servers first appear; key_fragment maps each key to its own.
  std::vector<uint32_t> servers;
  std::vector<uint32_t> key_fragment(key_servers.size());
  for (size_t k = 0; k < key_servers.size(); ++k) {
    auto it = std::find(servers.begin(), servers.end(), key_servers[k]);
    if (it == servers.end()) it = servers.insert(servers.end(), key_servers[k]);
    key_fragment[k] = static_cast<uint32_t>(it - servers.begin());
  }
  stats_->fragments.Add(servers.size());
  size_t bytes = 0;
  for (const std::string_view arg : args) bytes += arg.size();
  Request* request = Enqueue(decision.command_class, bytes);
  request->BeginSplit(decision.merge, static_cast<uint32_t>(servers.size()));
  std::vector<std::vector<std::string_view>> fragment_args(servers.size());
  for (size_t k = 0; k < key_servers.size(); ++k) {
    auto& part = fragment_args[key_fragment[k]];
    if (part.empty()) part.push_back(args[0]);
    for (size_t j = 0; j < step; ++j) part.push_back(args[1 + k * step + j]);
  }
  if (decision.merge == MergeKind::kArray) request->key_fragment = std::move(key_fragment);
  ByteBuffer encoded;
  session_.last_server = servers.back();  // WAIT goes to one of them: the last one written
  for (size_t f = 0; f < servers.size(); ++f) {
    EncodeCommand(fragment_args[f], &encoded);
    Fragment* fragment = context_->NewFragment();
    fragment->request = request;
    fragment->index = static_cast<uint32_t>(f);
    SendTo(&pool_->server(servers[f]), fragment, encoded.view());
    encoded.Clear();
  }
}

void ClientConnection::Scan(const RouteDecision& decision) {
  // SCAN <the server's own cursor>, then the client's options (MATCH, COUNT, TYPE) verbatim.
  std::vector<std::string_view>& args = context_->args();
  const std::string cursor = std::to_string(decision.cursor);
  args[1] = cursor;
  ByteBuffer encoded;
  EncodeCommand(args, &encoded);
  Request* request = Enqueue(decision.command_class, encoded.size());
  request->BeginSplit(MergeKind::kScan, 1);
  request->scan_server = decision.server;
  request->scan_servers = static_cast<uint32_t>(pool_->server_count());
  Fragment* fragment = context_->NewFragment();
  fragment->request = request;
  SendTo(&pool_->server(decision.server), fragment, encoded.view());
}

void ClientConnection::FanOut(const RouteDecision& decision, std::string_view raw) {
  std::vector<uint32_t> servers;
  if (decision.every_server) {
    servers.resize(pool_->server_count());
    for (size_t i = 0; i < servers.size(); ++i) servers[i] = static_cast<uint32_t>(i);
  } else {
    servers = pool_->LiveServers();
  }
  if (servers.empty()) {
    stats_->forward_error.Add();
    ReplyError("ERR no server available");
    return;
  }
  stats_->fragments.Add(servers.size());
  Request* request = Enqueue(decision.command_class, raw.size());
  request->BeginSplit(decision.merge, static_cast<uint32_t>(servers.size()));
  const std::string bytes(WireBytes(raw));  // each Send may reuse the encoding buffer
  for (size_t f = 0; f < servers.size(); ++f) {
    Fragment* fragment = context_->NewFragment();
    fragment->request = request;
    fragment->index = static_cast<uint32_t>(f);
    SendTo(&pool_->server(servers[f]), fragment, bytes);
  }
}

void ClientConnection::AnswerInfo() {
  const InfoSections sections = InfoSections::Parse(context_->args());
  const std::string text = InfoText(sections, pool_->GatherInfoFigures(workers_));
  const std::vector<uint32_t> servers =
      sections.keyspace ? pool_->LiveServers() : std::vector<uint32_t>();
  if (servers.empty()) {
    resp::AppendVerbatimText(BeginLocalReply(CommandClass::kLocal),
                             sections.keyspace ? text + "\r\n# Keyspace\r\n" : text,
                             session_.protocol);
    EndLocalReply();
    return;
  }
  // The keyspace is the servers': each is asked for its own, and the sums answer.
  Request* request = Enqueue(CommandClass::kLocal, 0);
  request->BeginSplit(MergeKind::kInfoKeyspace, static_cast<uint32_t>(servers.size()));
  request->fragment_replies.back() = text;
  request->protocol = session_.protocol;
  constexpr std::string_view kInfoKeyspace = "*2\r\n$4\r\nINFO\r\n$8\r\nkeyspace\r\n";
  for (size_t f = 0; f < servers.size(); ++f) {
    Fragment* fragment = context_->NewFragment();
    fragment->request = request;
    fragment->index = static_cast<uint32_t>(f);
    // Read by the proxy (MergedKeyspace), so asked in RESP2; its order among the client's
    // requests does not matter.
    pool_->server(servers[f]).Send(fragment, kInfoKeyspace, session_.id, Protocol::kResp2);
  }
}

void ClientConnection::AnswerLocal(const CommandSpec& spec) {
  if (spec.local == LocalCommand::kInfo) {
    AnswerInfo();
    return;
  }
  const LocalContext context{&pool_->config(), context_->id(), workers_, &pool_->auth_failures(),
                             context_->now_ms()};
  const bool was_authenticated = session_.authenticated;
  const Protocol protocol = session_.protocol;
  AnswerLocalCommand(spec, context_->args(), context, &session_,
                     BeginLocalReply(CommandClass::kLocal));
  EndLocalReply();
  if (session_.protocol != protocol && pinned_ != nullptr) {
    // The client's own server connection (WATCH) switches with it, ahead of its next request.
    Fragment* quiet = context_->NewFragment();
    quiet->kind = FragmentKind::kQuiet;
    pinned_server_->SendOn(pinned_, quiet,
                           session_.protocol == Protocol::kResp3 ? kHello3Command : kHello2Command);
    pinned_->set_protocol(session_.protocol);
  }
  if (session_.authenticated != was_authenticated && !pool_->config().redis_auth.empty()) {
    parser_.set_limits(session_.authenticated ? context_->settings().limits
                                              : RequestLimits::Unauthenticated());
  }
  if (session_.close_after_reply) {
    state_ = State::kEnding;
    AfterProgress();
  }
}

// --- Transactions ---------------------------------------------------------------------------

void ClientConnection::QueueInTransaction(const RouteDecision& decision, std::string_view raw) {
  Transaction& transaction = session_.transaction;
  const std::string_view bytes = WireBytes(raw);
  if (transaction.queued.size() + bytes.size() > context_->settings().limits.max_request_bytes) {
    transaction.failed = true;
    ReplyError("ERR transaction larger than the proxy's request limit", CommandClass::kTransaction);
    return;
  }
  transaction.queued.Append(bytes);
  ++transaction.commands;
  if (decision.server != kNoServerYet) transaction.server = decision.server;
  ReplySimple("QUEUED", CommandClass::kTransaction);
}

void ClientConnection::Exec(const RouteDecision& decision) {
  Transaction& transaction = session_.transaction;
  if (watch_lost_) {
    // The WATCH lived on a connection that is gone: running the transaction now would run it
    // unguarded.
    DropTransaction();
    ReplyError(
        "EXECABORT Transaction discarded because the server connection holding its WATCH was "
        "lost",
        CommandClass::kTransaction);
    return;
  }
  const bool watching = session_.watch_server != kNoServerYet;
  if (transaction.commands == 0 && !watching) {
    transaction.Reset();
    resp::AppendArrayHeader(BeginLocalReply(CommandClass::kTransaction), 0);
    EndLocalReply();
    return;
  }
  uint32_t server_index = decision.server;
  if (server_index == kNoServerYet) server_index = pool_->AnyLiveServer();
  if (server_index == kNoServerYet) {
    DropTransaction();
    stats_->forward_error.Add();
    ReplyError("ERR no server available", CommandClass::kTransaction);
    return;
  }
  Server* server = &pool_->server(server_index);
  session_.last_server = server_index;  // WAIT goes there
  ByteBuffer block;
  block.PrepareAppend(kMultiCommand.size() + transaction.queued.size() + kExecCommand.size());
  block.Append(kMultiCommand);
  block.Append(transaction.queued.view());
  block.Append(kExecCommand);
  Request* request = Enqueue(CommandClass::kTransaction, block.size());
  request->pending = 1;
  // MULTI's +OK and each +QUEUED are the server's business: the client had its answers from the
  // proxy. EXEC's reply (the results, a nil for a failed WATCH, or EXECABORT) is the client's.
  std::vector<Fragment*>& fragments = context_->fragment_scratch();
  fragments.clear();
  for (uint32_t i = 0; i < transaction.commands + 1; ++i) {
    Fragment* quiet = context_->NewFragment();
    quiet->kind = FragmentKind::kQuiet;
    fragments.push_back(quiet);
  }
  Fragment* exec = context_->NewFragment();
  exec->request = request;
  fragments.push_back(exec);
  transaction.Reset();
  if (watching) {
    // EXEC unwatches: the pinned connection goes back once this is answered.
    session_.watch_server = kNoServerYet;
    unpin_when_idle_ = true;
  }
  if (pinned_server_ == server) {
    server->SendBlockOn(pinned_, fragments, block.view());
  } else {
    server->SendBlock(fragments, block.view(), session_.id, session_.protocol);
  }
}

ClientConnection::PinOutcome ClientConnection::PinTo(Server* server, std::string_view need,
                                                     CommandClass command_class, bool usual) {
  // The connection changes: what the client sent before must be answered first.
  if (pending_ > 0) {
    hold_ = Hold::kUntilIdle;
    return PinOutcome::kHeld;
  }
  if (pinned_ != nullptr) Unpin(/*reusable=*/true);
  Server::PinRefusal refused = Server::PinRefusal::kNone;
  ServerConnection* connection =
      server->Pin(this, session_.protocol, &refused, usual ? session_.id : kNoAffinity);
  if (connection == nullptr) {
    if (refused == Server::PinRefusal::kLimit) {
      ReplyError("ERR max_pinned_connections reached for server '" + server->config().name +
                     "': " + std::string(need) + "; try again later",
                 command_class);
    } else {
      stats_->forward_error.Add();
      ReplyError("ERR Connection refused", command_class);
    }
    return PinOutcome::kAnswered;
  }
  pinned_ = connection;
  pinned_server_ = server;
  return PinOutcome::kPinned;
}

bool ClientConnection::Watch(const RouteDecision& decision, std::string_view raw) {
  Server* server = &pool_->server(decision.server);
  if (pinned_server_ != server) {
    // The WATCH and everything after it must reach the server on one connection of the
    // client's own, and after what the client sent before on its usual one.
    const PinOutcome outcome =
        PinTo(server, "WATCH needs a server connection of its own", CommandClass::kTransaction);
    if (outcome != PinOutcome::kPinned) return outcome == PinOutcome::kAnswered;
    watch_lost_ = false;
  }
  unpin_when_idle_ = false;
  session_.watch_server = decision.server;
  Forward(decision.server, raw, CommandClass::kTransaction);
  return true;
}

void ClientConnection::Unwatch(std::string_view raw) {
  watch_lost_ = false;
  if (session_.watch_server != kNoServerYet && pinned_ != nullptr) {
    session_.watch_server = kNoServerYet;
    unpin_when_idle_ = true;
    const uint32_t server = pool_->IndexOf(pinned_server_);
    Forward(server, raw, CommandClass::kTransaction);
    return;
  }
  session_.watch_server = kNoServerYet;
  ReplySimple("OK", CommandClass::kTransaction);
}

void ClientConnection::DropTransaction() {
  session_.transaction.Reset();
  watch_lost_ = false;
  if (session_.watch_server == kNoServerYet) return;
  session_.watch_server = kNoServerYet;
  if (pinned_ != nullptr) {
    // DISCARD unwatches too; the connection is clean once this UNWATCH is through, and it is
    // queued ahead of whatever the connection carries next.
    Fragment* quiet = context_->NewFragment();
    quiet->kind = FragmentKind::kQuiet;
    pinned_server_->SendOn(pinned_, quiet, kUnwatchCommand);
    unpin_when_idle_ = true;
    MaybeUnpin();
  }
}

void ClientConnection::MaybeUnpin() {
  if (unpin_when_idle_ && pending_ == 0 && pinned_ != nullptr) Unpin(/*reusable=*/true);
}

void ClientConnection::Unpin(bool reusable) {
  ServerConnection* connection = pinned_;
  Server* server = pinned_server_;
  pinned_ = nullptr;
  pinned_server_ = nullptr;
  unpin_when_idle_ = false;
  server->Unpin(connection, reusable, session_.id);
}

void ClientConnection::OnPinnedConnectionLost() {
  pinned_ = nullptr;
  pinned_server_ = nullptr;
  unpin_when_idle_ = false;
  if (session_.watch_server != kNoServerYet) watch_lost_ = true;
}

// --- Blocking commands ----------------------------------------------------------------------

bool ClientConnection::Block(const CommandSpec& spec, const RouteDecision& decision,
                             std::string_view raw) {
  uint32_t index = decision.server;
  if (index == kNoServerYet) {
    index = pool_->AnyLiveServer();
    if (index == kNoServerYet) {
      stats_->forward_error.Add();
      ReplyError("ERR no server available");
      return true;
    }
  }
  Server* server = &pool_->server(index);
  if (pinned_server_ != server) {
    // As WATCH: the command must follow what the client sent before on its usual connection.
    // A pin left from a finished WATCH is let go (the Router refuses one still watching
    // elsewhere).
    const PinOutcome outcome = PinTo(
        server, ascii::Upper(spec.name) + " needs a server connection of its own while it blocks",
        CommandClass::kRejected, decision.takes_usual_connection);
    if (outcome != PinOutcome::kPinned) return outcome == PinOutcome::kAnswered;
  }
  // Back to the server once the reply is in, unless a WATCH lives on it.
  if (session_.watch_server == kNoServerYet) unpin_when_idle_ = true;
  pinned_->AskClientId();
  // Keyed commands only: WAIT's server stays the one of the client's writes.
  if (decision.command_class != CommandClass::kFanOut) session_.last_server = index;
  Request* request = Enqueue(decision.command_class, raw.size());
  request->pending = 1;
  if (MayTake(spec)) {
    const std::vector<std::string_view>& args = context_->args();
    request->give_back_args.assign(args.begin(), args.end());
  }
  Fragment* fragment = context_->NewFragment();
  fragment->request = request;
  fragment->patience_ns = decision.block_timeout_ns;
  server->SendOn(pinned_, fragment, WireBytes(raw));
  blocked_ = true;
  stats_->blocked_clients.Add(1);
  // Nothing queues behind the blocked command on its connection: the client's next requests
  // wait for its reply, as they would behind it on a connection to Redis.
  hold_ = Hold::kUntilIdle;
  return true;
}

void ClientConnection::EndBlocked() {
  blocked_ = false;
  stats_->blocked_clients.Add(-1);
}

// --- Replies --------------------------------------------------------------------------------

Request* ClientConnection::Enqueue(CommandClass command_class, size_t request_bytes) {
  Request* request = context_->NewRequest();
  request->client = this;
  request->started_ns = context_->now_ns();
  request->command_class = command_class;
  request->request_bytes = request_bytes;
  stats_->requests_of(command_class).Add();
  stats_->in_flight.Add(1);
  if (tail_ == nullptr) {
    head_ = tail_ = request;
  } else {
    tail_->next = request;
    tail_ = request;
  }
  ++queued_;
  ++pending_;
  pending_bytes_ += request_bytes;
  return request;
}

void ClientConnection::NoteDone(Request* request) {
  --pending_;
  pending_bytes_ -= request->request_bytes;
  resume_stalled_ = false;
}

ByteBuffer* ClientConnection::BeginLocalReply(CommandClass command_class) {
  if (head_ == nullptr) {
    // Answered at once: counted, with no latency worth a histogram sample beyond zero.
    stats_->requests_of(command_class).Add();
    stats_->latency_of(command_class).Observe(0);
    return &out_;
  }
  local_reply_ = Enqueue(command_class, 0);
  return &local_reply_->reply;
}

void ClientConnection::EndLocalReply() {
  if (local_reply_ != nullptr) {
    Request* request = std::exchange(local_reply_, nullptr);
    request->done = true;
    NoteDone(request);
    // What was ahead of it may have completed while it was composed (a SUBSCRIBE confirmed when
    // an UNSUBSCRIBE drops its name): then nothing else would write it, nor what follows.
    if (request == head_) {
      WriteCompletedHeads();
      ScheduleFlush();
    }
    return;
  }
  ScheduleFlush();
}

void ClientConnection::ReplyError(std::string_view text, CommandClass command_class) {
  resp::AppendError(BeginLocalReply(command_class), text);
  EndLocalReply();
}

void ClientConnection::ReplySimple(std::string_view text, CommandClass command_class) {
  resp::AppendSimple(BeginLocalReply(command_class), text);
  EndLocalReply();
}

void ClientConnection::CompleteHead(std::string_view reply) {
  Request* request = head_;
  head_ = request->next;
  if (head_ == nullptr) tail_ = nullptr;
  --queued_;
  NoteDone(request);
  reply_estimate_ = FlowControl::NextReplyEstimate(reply_estimate_, reply.size());
  Retire(request);
  // Checked before the append: growing a buffer already near the limit would briefly need
  // twice the limit.
  if (OverHardLimit(reply.size())) {
    CloseOverHardLimit(reply.size());
    return;
  }
  ReserveOutput(reply.size());
  out_.Append(reply);
  if (head_ != nullptr && head_->done) {
    WriteCompletedHeads();
    if (OverHardLimit(0)) {
      CloseOverHardLimit(0);
      return;
    }
  }
  ScheduleFlush();
  AfterProgress();
}

void ClientConnection::OnRequestDone(Request* request) {
  NoteDone(request);
  reply_estimate_ = FlowControl::NextReplyEstimate(reply_estimate_, request->ReplyBytes().size());
  if (request != head_) {
    // Written when the requests ahead of it are; until then its reply counts as held.
    request->parked = true;
    parked_bytes_ += request->ReplyBytes().size();
    if (CloseIfOverHardLimit(0)) return;
    AfterProgress();
    return;
  }
  WriteCompletedHeads();
  if (CloseIfOverHardLimit(0)) return;
  ScheduleFlush();
  AfterProgress();
}

void ClientConnection::WriteCompletedHeads() {
  while (head_ != nullptr && head_->done) {
    Request* request = head_;
    head_ = request->next;
    if (head_ == nullptr) tail_ = nullptr;
    --queued_;
    const size_t size = request->ReplyBytes().size();
    if (request->parked) parked_bytes_ -= size;
    if (OverHardLimit(size)) {
      // Over the limit: the caller's check closes the client; stop copying.
      parked_bytes_ += size;
      Retire(request);
      return;
    }
    ReserveOutput(size);
    out_.Append(request->ReplyBytes());
    Retire(request);
  }
}

void ClientConnection::ReserveOutput(size_t reply_bytes) {
  // The first reply into an empty buffer sizes it for the replies still queued behind it (up
  // to kMaxOutputReserve): a pipelining client's replies then take one allocation instead of a
  // doubling and a copy every few replies.
  if (out_.capacity() != 0 || queued_ == 0) return;
  out_.PrepareAppend(std::min(kMaxOutputReserve, reply_bytes * (queued_ + 1)));
}

void ClientConnection::Retire(Request* request) {
  if (request->push) {
    context_->FreeRequest(request);
    return;
  }
  // A reply counts as activity: idleness starts when the last answer is ready, not at the request.
  last_active_ns_ = context_->now_ns();
  stats_->in_flight.Add(-1);
  stats_->latency_of(request->command_class)
      .Observe((last_active_ns_ - request->started_ns) / 1000);
  context_->FreeRequest(request);
}

FlowState ClientConnection::Flow() const {
  const size_t held = HeldBytes();
  return FlowState{
      pending_,       pending_bytes_, held, held - parked_bytes_, stream_.carried().size(),
      reply_estimate_};
}

const FlowLimits& ClientConnection::Limits() const { return pool_->flow_limits(); }

bool ClientConnection::CloseIfOverHardLimit(size_t incoming) {
  if (!OverHardLimit(incoming)) return false;
  CloseOverHardLimit(incoming);
  return true;
}

void ClientConnection::CloseOverHardLimit(size_t incoming) {
  RP_LOG(kLogWarn,
         "pool '%s': client %llu (%s) would hold %zu bytes of replies it has not read, past the "
         "hard output limit of %llu; closing it",
         pool_->config().name.c_str(), static_cast<unsigned long long>(session_.id),
         PeerName(stream_.get()).c_str(), HeldBytes() + incoming,
         static_cast<unsigned long long>(Limits().output.hard_bytes));
  stats_->client_err.Add();
  stats_->client_output_limit_closes.Add();
  Close();
}

bool ClientConnection::CheckStalledOutput() {
  if (state_ == State::kClosing || state_ == State::kHalfClosed) return false;
  const uint64_t stalled = context_->now_ns() - std::min(last_progress_ns_, context_->now_ns());
  if (FlowControl::CheckOutput(Limits(), Flow(), 0, forwarding_, stalled) !=
      OutputVerdict::kStalledAtSoftLimit) {
    return false;
  }
  RP_LOG(kLogWarn,
         "pool '%s': client %llu (%s) holds %zu bytes of replies it has not read, at the soft "
         "output limit of %llu, and took or sent no byte for %llu s; closing it",
         pool_->config().name.c_str(), static_cast<unsigned long long>(session_.id),
         PeerName(stream_.get()).c_str(), HeldBytes(),
         static_cast<unsigned long long>(Limits().output.soft_bytes),
         static_cast<unsigned long long>(Limits().output.soft_seconds));
  stats_->client_err.Add();
  stats_->client_output_limit_closes.Add();
  Close();
  return true;
}

void ClientConnection::UpdateReading() {
  const bool want =
      state_ == State::kOpen && !peer_finished_ &&
      FlowControl::ShouldRead(Limits(), Flow(), reading_, forwarding_ && hold_ == Hold::kNone);
  if (want && !reading_) {
    reading_ = StartReading() == 0;
  } else if (!want && reading_) {
    stream_.StopReading();
    reading_ = false;
  }
}

void ClientConnection::QueueFlush() {
  flush_scheduled_ = true;
  context_->QueueFlush(this);
}

void ClientConnection::UpdateAfterProgress() {
  if (state_ == State::kClosing) return;
  forwarding_ = FlowControl::ShouldForward(Limits(), Flow(), forwarding_);
  if (blocked_ && pending_ == 0) EndBlocked();
  if (hold_ == Hold::kUntilIdle && pending_ == 0) hold_ = Hold::kNone;
  MaybeUnpin();
  if (held_input_ && !resume_stalled_ && CanDispatch() && !processing_ && !resume_input_) {
    // Requests held back can go now; from Flush, not from inside whatever called this.
    resume_input_ = true;
    ScheduleFlush();
  }
  UpdateReading();
  if (head_ != nullptr || HasOutput() || stream_.write_in_flight() || resume_input_) return;
  if (peer_finished_ && state_ != State::kEnding) {
    // Everything it sent before its FIN is answered (an incomplete request never will be).
    Close();
  } else if (state_ == State::kEnding || (leaving_ && !HasUnreadInput())) {
    // Ending, or draining: requests the client sent before the signal may still sit in the
    // socket, and they get their replies first.
    HalfClose();
  }
}

bool ClientConnection::HasUnreadInput() {
  uv_os_fd_t fd = -1;
  int pending = 0;
  if (!stream_.carried().empty()) return true;
  if (uv_fileno(stream_.handle(), &fd) != 0) return false;
  if (ioctl(fd, FIONREAD, &pending) != 0) return false;
  if (pending > 0) UpdateReading();
  return pending > 0;
}

void ClientConnection::CloseWhenIdle() {
  leaving_ = true;
  if (head_ == nullptr && !HasOutput() && !stream_.write_in_flight() && !HasUnreadInput()) {
    HalfClose();
  }
}

void ClientConnection::NoteOutputProgress() {
  last_progress_ns_ = context_->now_ns();
  resume_stalled_ = false;
}

void ClientConnection::Flush() {
  if (state_ == State::kClosing) return;
  if (resume_input_) ResumeInput();
  if (state_ == State::kClosing || stream_.write_in_flight()) return;
  ByteBuffer* pending = stream_.Seal(&out_);
  if (pending == nullptr) {
    RP_LOG(kLogInfo, "client %llu: TLS failed: %s", static_cast<unsigned long long>(session_.id),
           stream_.tls()->error().c_str());
    stats_->client_err.Add();
    SendTlsAlert();
    Close();
    return;
  }
  if (!pending->empty()) {
    // A pipelining client refills its buffer at once; an idle one gives it back.
    const ssize_t written =
        stream_.Write<ClientConnection>(pending, /*keep_capacity=*/head_ != nullptr);
    if (written < 0) {
      Close();
      return;
    }
    if (written > 0) NoteOutputProgress();
    if (stream_.write_in_flight()) return;
  }
  AfterProgress();
}

void ClientConnection::OnWritten(int status) {
  if (status != 0) {
    Close();
    return;
  }
  NoteOutputProgress();
  if (stream_.write_in_flight()) return;
  if (HasOutput()) {
    ScheduleFlush();
    return;
  }
  AfterProgress();
}

void ClientConnection::HalfClose() {
  if (state_ == State::kClosing || state_ == State::kHalfClosed) return;
  state_ = State::kHalfClosed;
  stream_.carried().Release();
  if (stream_.tls() != nullptr) SendCloseNotify();
  if (peer_finished_) {
    // It has closed its side already: nothing to wait for.
    Close();
    return;
  }
  if (!reading_) reading_ = StartReading() == 0;
  auto* shutdown = new uv_shutdown_t;  // freed in its callback
  shutdown->data = this;
  if (uv_shutdown(shutdown, stream_.get(), [](uv_shutdown_t* req, int status) {
        auto* self = static_cast<ClientConnection*>(req->data);
        delete req;
        // Cancelled: the connection is already closing. Failed: nothing more to wait for.
        if (status != 0 && status != UV_ECANCELED) self->Close();
      }) != 0) {
    delete shutdown;
    Close();
    return;
  }
  linger_ = new uv_timer_t;  // freed in its close callback
  uv_timer_init(context_->loop(), linger_);
  linger_->data = this;
  uv_timer_start(
      linger_, [](uv_timer_t* timer) { static_cast<ClientConnection*>(timer->data)->Close(); },
      kLingerMs, 0);
}

void ClientConnection::SendCloseNotify() {
  // Before the FIN, so that a TLS client can tell our end from a truncation. Best effort: the
  // alert is tiny and the socket has nothing else queued (HalfClose waits for that).
  TlsSession* tls = stream_.tls();
  tls->Shutdown();
  if (!tls->Seal(&out_)) return;
  stream_.WriteWhatFits(&tls->ciphertext());
}

void ClientConnection::SendTlsAlert() {
  TlsSession* tls = stream_.tls();
  tls->CollectOutput();
  stream_.WriteWhatFits(&tls->ciphertext());
}

bool ClientConnection::TlsHandshakePending() const {
  return stream_.tls() != nullptr && state_ != State::kClosing && !stream_.tls()->established();
}

void ClientConnection::Close() {
  if (state_ == State::kClosing) return;
  state_ = State::kClosing;
  CloseAndDelete(std::exchange(linger_, nullptr));
  if (blocked_) {
    EndBlocked();
    // Its connection stays until the server's reply: what the command took goes back.
    if (pinned_ != nullptr) {
      pinned_server_->Abandon(std::exchange(pinned_, nullptr));
      pinned_server_ = nullptr;
    }
  }
  // A pinned connection may hold a WATCH or a transaction in progress: not reusable.
  if (pinned_ != nullptr) Unpin(/*reusable=*/false);
  // Requests still waiting for servers stay alive as orphans until their fragments return.
  if (counted_) {
    stats_->client_connections.Add(-1);
    pool_->ReleaseClient();
  }
  if (session_.subscriptions > 0) pool_->pubsub().RemoveClient(this);
  for (Request* request = head_; request != nullptr;) {
    Request* next = request->next;
    if (!request->push) stats_->in_flight.Add(-1);
    if (request->done) {
      context_->FreeRequest(request);
    } else {
      request->client = nullptr;
      request->next = nullptr;
    }
    request = next;
  }
  head_ = tail_ = nullptr;
  queued_ = pending_ = pending_bytes_ = 0;
  out_.Release();
  context_->clients()->OnClientClosed(this);
  stream_.Close<ClientConnection>();
}

}  // namespace ringproxy::proxy
