#include "proxy/client_connection.h"

#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <string>

#include "proxy/local_commands.h"
#include "proxy/logger.h"
#include "proxy/request.h"
#include "proxy/resp_writer.h"
#include "proxy/script_policy.h"
#include "proxy/server.h"
#include "proxy/server_pool.h"
#include "proxy/tls_session.h"
#include "proxy/worker.h"

namespace ringproxy::proxy {
namespace {

constexpr size_t kMinReadSize = 16u << 10;
constexpr size_t kMaxOutputReserve = 64u << 10;
// How long a half-closed client may take to close its side before we close ours anyway.
constexpr uint64_t kLingerMs = 2000;

// Argument views of the request being dispatched; reused so routing allocates nothing.
thread_local std::vector<std::string_view> t_args;

// Redis's text for a command it does not know.
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

void EncodeCommand(std::span<const std::string_view> args, ByteBuffer* out) {
  resp::AppendArrayHeader(out, static_cast<int64_t>(args.size()));
  for (const std::string_view arg : args) resp::AppendBulk(out, arg);
}

}  // namespace

ClientConnection::ClientConnection(Worker* worker, ServerPool* pool, int workers)
    : worker_(worker),
      pool_(pool),
      stats_(&pool->stats()),
      workers_(workers),
      parser_(worker->settings().limits) {
  session_.id = worker->NextClientId();
}

ClientConnection::~ClientConnection() = default;

bool ClientConnection::Accept(uv_stream_t* listener, bool is_unix) {
  if (is_unix) {
    uv_pipe_init(worker_->loop(), &handle_.pipe, 0);
  } else {
    uv_tcp_init(worker_->loop(), &handle_.tcp);
  }
  handle_.tcp.data = this;
  if (uv_accept(listener, stream()) != 0) {
    Close();
    return false;
  }
  if (!is_unix) uv_tcp_nodelay(&handle_.tcp, 1);
  if (!pool_->AdmitClient()) {
    // Redis's reply at its maxclients; the connection ends once it is written (a FIN, not a
    // close with unread input, whose RST could destroy the error on its way). A TLS client gets
    // the FIN alone: the error could only follow a whole handshake, the very cost a full proxy
    // should not pay for each client it turns away.
    if (pool_->tls().clients == nullptr) {
      resp::AppendError(&out_, "ERR max number of clients reached");
    }
    close_when_flushed_ = true;
    worker_->ScheduleFlush(this);
    return true;
  }
  counted_ = true;
  worker_->UpdateClock();
  last_active_ns_ = accepted_ns_ = worker_->now_ns();
  stats_->client_connections.Add(1);
  stats_->client_connections_total.Add();
  if (const std::shared_ptr<const TlsContext>& context = pool_->tls().clients) {
    tls_ = TlsSession::Accept(context);
    if (tls_ == nullptr) {
      Close();
      return false;
    }
  }
  const int rc = StartReading();
  if (rc != 0) {
    Close();
    return false;
  }
  reading_ = true;
  return true;
}

int ClientConnection::StartReading() {
  // Named callbacks, passed each time: uv_read_stop() forgets the ones it was given.
  return uv_read_start(
      stream(),
      [](uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
        static_cast<ClientConnection*>(handle->data)->OnAlloc(buf);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<ClientConnection*>(s->data)->OnRead(nread, buf);
      });
}

void ClientConnection::OnAlloc(uv_buf_t* buf) {
  if (tls_ != nullptr) {
    *buf = uv_buf_init(worker_->tls_scratch(), Worker::kScratchSize);
    return;
  }
  if (in_.empty()) {
    // Most reads hold whole requests: parse them where they landed, in the worker's scratch
    // buffer, so an idle connection owns no buffer at all.
    reading_from_scratch_ = true;
    *buf = uv_buf_init(worker_->scratch(), Worker::kScratchSize);
    return;
  }
  reading_from_scratch_ = false;
  const size_t want = InputWant();
  *buf = uv_buf_init(in_.PrepareAppend(want), static_cast<unsigned>(want));
}

size_t ClientConnection::InputWant() const {
  const size_t expected = parser_.expected_size();
  return expected > in_.size() ? std::max(kMinReadSize, expected - in_.size()) : kMinReadSize;
}

void ClientConnection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (closing_) return;
  if (half_closed_) {
    if (nread < 0) Close();  // the client closed its side too: done
    return;                  // anything else it sends after our FIN is dropped
  }
  worker_->UpdateClock();
  last_active_ns_ = worker_->now_ns();
  if (nread < 0) {
    if (nread == UV_EOF) {
      stats_->client_eof.Add();
    } else {
      stats_->client_err.Add();
    }
    // EOF or reset: requests still out become orphans and their replies are dropped.
    Close();
    return;
  }
  if (nread == 0) return;
  const auto n = static_cast<size_t>(nread);
  if (tls_ != nullptr) {
    ReadTls(buf->base, n);
  } else {
    ProcessInput(buf->base, n, reading_from_scratch_);
  }
  if (!closing_) PauseReadingIfOverLimits();
}

void ClientConnection::ProcessInput(const char* data, size_t size, bool in_scratch) {
  if (in_scratch) {
    const size_t used = ProcessRequests(data, size);
    if (!closing_ && used < size && !close_when_flushed_) in_.Append(data + used, size - used);
  } else {
    in_.Commit(size);
    const size_t used = ProcessRequests(in_.data(), in_.size());
    if (!closing_) in_.Consume(used);
  }
}

void ClientConnection::ReadTls(const char* data, size_t size) {
  tls_->Receive(data, size);
  // Everything decryptable now is processed now: plaintext left inside the session would wait
  // for a socket read that may never come.
  while (!closing_ && !close_when_flushed_) {
    const bool in_scratch = in_.empty();
    const size_t capacity = in_scratch ? Worker::kScratchSize : InputWant();
    char* dst = in_scratch ? worker_->scratch() : in_.PrepareAppend(capacity);
    const ssize_t got = tls_->Read(dst, capacity);
    if (got < 0) {
      if (tls_->closed_by_peer()) {
        stats_->client_eof.Add();
      } else {
        // Routine for port scanners and plaintext clients: not worth more than an info line.
        RP_LOG(kLogInfo, "client %llu: TLS failed: %s",
               static_cast<unsigned long long>(session_.id), tls_->error().c_str());
        stats_->client_err.Add();
        SendTlsAlert();
      }
      Close();
      return;
    }
    if (got == 0) break;
    ProcessInput(dst, static_cast<size_t>(got), in_scratch);
  }
  if (!closing_ && tls_->has_output()) worker_->ScheduleFlush(this);
}

size_t ClientConnection::ProcessRequests(const char* data, size_t size) {
  size_t offset = 0;
  while (offset < size && !closing_ && !close_when_flushed_) {
    const RequestParser::Status status = parser_.Parse(data + offset, size - offset);
    switch (status) {
      case RequestParser::Status::kComplete:
        Dispatch(data + offset);
        offset += parser_.consumed();
        break;
      case RequestParser::Status::kEmpty:
        offset += parser_.consumed();
        break;
      case RequestParser::Status::kIncomplete:
        return offset;
      case RequestParser::Status::kError:
        // As Redis: the error, then the connection closes once it is written.
        stats_->client_protocol_errors.Add();
        stats_->client_err.Add();
        ReplyError("ERR " + parser_.error());
        close_when_flushed_ = true;
        if (reading_) {
          uv_read_stop(stream());
          reading_ = false;
        }
        in_.Release();
        AfterProgress();
        return size;
    }
  }
  return offset;
}

void ClientConnection::Dispatch(const char* data) {
  const std::string_view raw(data, parser_.consumed());
  const CommandSpec* spec = LookupCommand(parser_.arg(data, 0));
  const size_t argc = parser_.argc();
  if (spec != nullptr && spec->kind == CommandKind::kSingleKey && ArityOk(*spec, argc) &&
      (session_.authenticated || pool_->config().redis_auth.empty())) {
    // The hot path: one key, routed by it, forwarded verbatim.
    const std::string_view key = parser_.arg(data, static_cast<size_t>(spec->first_key));
    Server* server = pool_->ServerForKey(key);
    if (server == nullptr) {
      stats_->forward_error.Add();
      ReplyError("ERR no server available for key");
      return;
    }
    Forward(server, data, raw, CommandClass::kSingleKey);
    return;
  }

  t_args.clear();
  for (size_t i = 0; i < argc; ++i) t_args.push_back(parser_.arg(data, i));
  if (spec == nullptr) {
    ReplyError(UnknownCommandError(t_args));
    return;
  }
  if (!ArityOk(*spec, argc)) {
    ReplyError("ERR wrong number of arguments for '" + std::string(spec->name) + "' command");
    return;
  }
  if (!pool_->config().redis_auth.empty() && !session_.authenticated &&
      spec->local != LocalCommand::kAuth && spec->local != LocalCommand::kHello &&
      spec->local != LocalCommand::kQuit) {
    ReplyError("NOAUTH Authentication required.");
    return;
  }
  if (ScriptsRefused(pool_->config(), spec->name)) {
    ReplyError(ScriptsRefusedError(spec->name));
    return;
  }
  switch (spec->kind) {
    case CommandKind::kSingleKey:
      break;  // handled above
    case CommandKind::kLocal: {
      const LocalContext context{&pool_->config(), worker_->id(), workers_, &pool_->auth_failures(),
                                 worker_->now_ms()};
      AnswerLocalCommand(*spec, t_args, context, &session_, BeginLocalReply(CommandClass::kLocal));
      EndLocalReply();
      if (session_.close_after_reply) {
        close_when_flushed_ = true;
        AfterProgress();
      }
      return;
    }
    case CommandKind::kUnsupported:
      ReplyError("ERR " + Upper(spec->name) + " is not supported through the proxy");
      return;
    case CommandKind::kMultiKey:
      DispatchMultiKey(*spec, data, raw);
      return;
    case CommandKind::kSplitGet:
    case CommandKind::kSplitSet:
    case CommandKind::kSplitCount:
      DispatchSplit(*spec, data);
      return;
  }
}

void ClientConnection::DispatchMultiKey(const CommandSpec& spec, const char* data,
                                        std::string_view raw) {
  std::vector<uint32_t> keys;
  switch (CollectKeys(spec, t_args, &keys)) {
    case KeyScan::kOk:
      break;
    case KeyScan::kNoKeys:
      ReplyError("ERR " + Upper(spec.name) +
                 " without keys is not supported through the proxy: a key decides the server");
      return;
    case KeyScan::kBadNumkeys:
      ReplyError("ERR Number of keys can't be greater than number of args");
      return;
    case KeyScan::kWrongArity:
      ReplyError("ERR wrong number of arguments for '" + std::string(spec.name) + "' command");
      return;
    case KeyScan::kSyntaxError:
      ReplyError("ERR syntax error");
      return;
  }
  if (keys.empty()) {
    ReplyError("ERR " + Upper(spec.name) +
               " without keys is not supported through the proxy: a key decides the server");
    return;
  }
  Server* server = pool_->ServerForKey(t_args[keys[0]]);
  for (size_t i = 1; i < keys.size() && server != nullptr; ++i) {
    if (pool_->ServerForKey(t_args[keys[i]]) != server) {
      ReplyError("CROSSSLOT Keys in request don't hash to the same server (" + Upper(spec.name) +
                 " through the proxy needs all its keys on one server: use a hash tag)");
      return;
    }
  }
  if (server == nullptr) {
    stats_->forward_error.Add();
    ReplyError("ERR no server available for key");
    return;
  }
  Forward(server, data, raw, CommandClass::kMultiKey);
}

void ClientConnection::DispatchSplit(const CommandSpec& spec, const char* data) {
  // MSET takes key/value pairs; the others one key per argument.
  const size_t step = spec.kind == CommandKind::kSplitSet ? 2 : 1;
  const CommandClass command_class = spec.kind == CommandKind::kSplitGet ? CommandClass::kSplitGet
                                     : spec.kind == CommandKind::kSplitSet
                                         ? CommandClass::kSplitSet
                                         : CommandClass::kSplitCount;
  if (spec.kind == CommandKind::kSplitSet && (t_args.size() - 1) % 2 != 0) {
    ReplyError("ERR wrong number of arguments for '" + std::string(spec.name) + "' command");
    return;
  }
  const size_t key_count = (t_args.size() - 1) / step;
  std::vector<Server*> servers;  // one per fragment, in first-seen order
  std::vector<uint32_t> key_fragment(key_count);
  for (size_t k = 0; k < key_count; ++k) {
    Server* server = pool_->ServerForKey(t_args[1 + k * step]);
    if (server == nullptr) {
      stats_->forward_error.Add();
      ReplyError("ERR no server available for key");
      return;
    }
    auto it = std::find(servers.begin(), servers.end(), server);
    if (it == servers.end()) it = servers.insert(servers.end(), server);
    key_fragment[k] = static_cast<uint32_t>(it - servers.begin());
  }
  if (servers.size() == 1) {
    // Every key on one server: no need to split.
    Forward(servers[0], data, std::string_view(data, parser_.consumed()), command_class);
    return;
  }
  stats_->fragments.Add(servers.size());
  Request* request = Enqueue(command_class);
  const MergeKind merge = spec.kind == CommandKind::kSplitGet   ? MergeKind::kArray
                          : spec.kind == CommandKind::kSplitSet ? MergeKind::kAllOk
                                                                : MergeKind::kSum;
  request->BeginSplit(merge, static_cast<uint32_t>(servers.size()));
  std::vector<std::vector<std::string_view>> fragment_args(servers.size());
  for (size_t k = 0; k < key_count; ++k) {
    auto& args = fragment_args[key_fragment[k]];
    if (args.empty()) args.push_back(t_args[0]);
    for (size_t j = 0; j < step; ++j) args.push_back(t_args[1 + k * step + j]);
  }
  if (merge == MergeKind::kArray) request->key_fragment = std::move(key_fragment);
  ByteBuffer encoded;
  for (size_t f = 0; f < servers.size(); ++f) {
    EncodeCommand(fragment_args[f], &encoded);
    Fragment* fragment = worker_->NewFragment();
    fragment->request = request;
    fragment->index = static_cast<uint32_t>(f);
    servers[f]->Send(fragment, encoded.view(), session_.id);
    encoded.Consume(encoded.size());
  }
}

void ClientConnection::Forward(Server* server, const char* data, std::string_view raw,
                               CommandClass command_class) {
  Request* request = Enqueue(command_class);
  request->merge = MergeKind::kForward;
  request->pending = 1;
  Fragment* fragment = worker_->NewFragment();
  fragment->request = request;
  fragment->index = 0;
  if (parser_.is_inline()) {
    // An inline command is re-encoded: the server's inline parsing is not ours to rely on.
    t_args.clear();
    for (size_t i = 0; i < parser_.argc(); ++i) t_args.push_back(parser_.arg(data, i));
    ByteBuffer encoded;
    EncodeCommand(t_args, &encoded);
    server->Send(fragment, encoded.view(), session_.id);
    return;
  }
  server->Send(fragment, raw, session_.id);
}

Request* ClientConnection::Enqueue(CommandClass command_class) {
  Request* request = worker_->NewRequest();
  request->client = this;
  request->started_ns = worker_->now_ns();
  request->command_class = command_class;
  stats_->requests_of(command_class).Add();
  stats_->in_flight.Add(1);
  if (tail_ == nullptr) {
    head_ = tail_ = request;
  } else {
    tail_->next = request;
    tail_ = request;
  }
  ++queued_;
  return request;
}

ByteBuffer* ClientConnection::BeginLocalReply(CommandClass command_class) {
  if (head_ == nullptr) {
    // Answered at once: counted, with no latency worth a histogram sample beyond zero.
    stats_->requests_of(command_class).Add();
    stats_->latency_of(command_class).Observe(0);
    return &out_;
  }
  local_reply_ = Enqueue(command_class);
  return &local_reply_->reply;
}

void ClientConnection::EndLocalReply() {
  if (local_reply_ != nullptr) {
    local_reply_->done = true;
    local_reply_ = nullptr;
    return;
  }
  worker_->ScheduleFlush(this);
}

void ClientConnection::ReplyError(std::string_view text, CommandClass command_class) {
  resp::AppendError(BeginLocalReply(command_class), text);
  EndLocalReply();
}

void ClientConnection::CompleteHead(std::string_view reply) {
  Request* request = head_;
  head_ = request->next;
  if (head_ == nullptr) tail_ = nullptr;
  --queued_;
  Retire(request);
  // Checked before the append: growing a buffer already near the limit would briefly need
  // twice the limit.
  if (HeldBytes() + reply.size() > worker_->settings().client_max_output_bytes) {
    CloseIfOverOutputLimit(reply.size());
    return;
  }
  ReserveOutput(reply.size());
  out_.Append(reply);
  WriteCompletedHeads();
  if (CloseIfOverOutputLimit()) return;
  worker_->ScheduleFlush(this);
  AfterProgress();
}

void ClientConnection::OnRequestDone(Request* request) {
  if (request != head_) {
    // Written when the requests ahead of it are; until then its reply counts as held.
    request->parked = true;
    parked_bytes_ += request->ReplyBytes().size();
    CloseIfOverOutputLimit();
    return;
  }
  WriteCompletedHeads();
  if (CloseIfOverOutputLimit()) return;
  worker_->ScheduleFlush(this);
  AfterProgress();
}

void ClientConnection::WriteCompletedHeads() {
  while (head_ != nullptr && head_->done) {
    Request* request = head_;
    head_ = request->next;
    if (head_ == nullptr) tail_ = nullptr;
    --queued_;
    if (request->parked) parked_bytes_ -= request->ReplyBytes().size();
    if (out_.size() + request->ReplyBytes().size() > worker_->settings().client_max_output_bytes) {
      // Over the limit: the caller's check closes the client; stop copying.
      parked_bytes_ += request->ReplyBytes().size();
      Retire(request);
      return;
    }
    ReserveOutput(request->ReplyBytes().size());
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
  // A reply counts as activity: idleness starts when the last answer is ready, not at the request.
  last_active_ns_ = worker_->now_ns();
  stats_->in_flight.Add(-1);
  stats_->latency_of(request->command_class)
      .Observe((last_active_ns_ - request->started_ns) / 1000);
  worker_->FreeRequest(request);
}

bool ClientConnection::Idle() const {
  return head_ == nullptr && !HasOutput() && !write_in_flight_ && in_.empty();
}

size_t ClientConnection::HeldBytes() const {
  return out_.size() + writing_.size() + parked_bytes_ +
         (tls_ != nullptr ? tls_->ciphertext().size() : 0);
}

bool ClientConnection::HasOutput() const {
  return !out_.empty() || (tls_ != nullptr && !tls_->ciphertext().empty());
}

void ClientConnection::AfterProgress() {
  if (closing_) return;
  if (!reading_ && !close_when_flushed_ &&
      queued_ < worker_->settings().client_max_pending_requests / 2 &&
      HeldBytes() < worker_->settings().client_max_pending_bytes / 2) {
    // Drained below half the limits: take requests again.
    reading_ = StartReading() == 0;
  }
  if (head_ != nullptr || HasOutput() || write_in_flight_) return;
  // Draining: requests the client sent before the signal may still sit in the socket (it was
  // paused, or they arrived after our last read). They get their replies first.
  if (close_when_flushed_ || (leaving_ && !HasUnreadInput())) HalfClose();
}

void ClientConnection::PauseReadingIfOverLimits() {
  if (reading_ && (queued_ >= worker_->settings().client_max_pending_requests ||
                   HeldBytes() >= worker_->settings().client_max_pending_bytes)) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

bool ClientConnection::CloseIfOverOutputLimit(size_t incoming) {
  if (HeldBytes() + incoming <= worker_->settings().client_max_output_bytes) return false;
  RP_LOG(kLogWarn, "client %llu holds %zu bytes of replies it does not read (limit %zu); closing",
         static_cast<unsigned long long>(session_.id), HeldBytes(),
         worker_->settings().client_max_output_bytes);
  stats_->client_err.Add();
  Close();
  return true;
}

bool ClientConnection::HasUnreadInput() {
  uv_os_fd_t fd = -1;
  int pending = 0;
  if (!in_.empty()) return true;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&handle_), &fd) != 0) return false;
  if (ioctl(fd, FIONREAD, &pending) != 0) return false;
  if (pending > 0 && !reading_) reading_ = StartReading() == 0;
  return pending > 0;
}

void ClientConnection::CloseIfHungUpWhilePaused() {
  if (reading_ || closing_ || half_closed_ || close_when_flushed_) return;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&handle_), &fd) != 0) return;
  pollfd probe{fd, POLLRDHUP, 0};
  if (poll(&probe, 1, 0) != 1 || (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) return;
  stats_->client_eof.Add();
  // Its requests become orphans, exactly as when the EOF is read.
  Close();
}

void ClientConnection::CloseWhenIdle() {
  leaving_ = true;
  if (head_ == nullptr && !HasOutput() && !write_in_flight_ && !HasUnreadInput()) HalfClose();
}

void ClientConnection::Flush() {
  if (closing_ || write_in_flight_) return;
  ByteBuffer* pending = &out_;
  if (tls_ != nullptr) {
    if (!tls_->Seal(&out_)) {
      RP_LOG(kLogInfo, "client %llu: TLS failed: %s", static_cast<unsigned long long>(session_.id),
             tls_->error().c_str());
      stats_->client_err.Add();
      SendTlsAlert();
      Close();
      return;
    }
    pending = &tls_->ciphertext();
  }
  if (!pending->empty()) {
    uv_buf_t buf = uv_buf_init(pending->data(), static_cast<unsigned>(pending->size()));
    const int written = uv_try_write(stream(), &buf, 1);
    if (written > 0) {
      // A pipelining client refills its buffer at once; an idle one gives it back.
      if (head_ != nullptr) {
        pending->ConsumeKeep(static_cast<size_t>(written));
      } else {
        pending->Consume(static_cast<size_t>(written));
      }
    }
    if (written < 0 && written != UV_EAGAIN) {
      Close();
      return;
    }
    if (!pending->empty()) {
      // The socket is full: hand the rest to libuv and keep it until the callback.
      writing_ = std::move(*pending);
      buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
      if (write_req_ == nullptr) write_req_ = new uv_write_t;  // freed with the connection
      write_req_->data = this;
      if (uv_write(write_req_, stream(), &buf, 1, [](uv_write_t* req, int status) {
            static_cast<ClientConnection*>(req->data)->OnWriteDone(status);
          }) != 0) {
        Close();
        return;
      }
      write_in_flight_ = true;
      return;
    }
  }
  AfterProgress();
}

void ClientConnection::OnWriteDone(int status) {
  write_in_flight_ = false;
  writing_.Release();
  if (closing_) return;
  if (status != 0) {
    Close();
    return;
  }
  if (HasOutput()) {
    worker_->ScheduleFlush(this);
    return;
  }
  AfterProgress();
}

void ClientConnection::HalfClose() {
  if (closing_ || half_closed_) return;
  half_closed_ = true;
  in_.Release();
  if (tls_ != nullptr) SendCloseNotify();
  if (!reading_) reading_ = StartReading() == 0;
  auto* shutdown = new uv_shutdown_t;  // freed in its callback
  shutdown->data = this;
  if (uv_shutdown(shutdown, stream(), [](uv_shutdown_t* req, int status) {
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
  uv_timer_init(worker_->loop(), linger_);
  linger_->data = this;
  uv_timer_start(
      linger_, [](uv_timer_t* timer) { static_cast<ClientConnection*>(timer->data)->Close(); },
      kLingerMs, 0);
}

void ClientConnection::SendCloseNotify() {
  // Before the FIN, so that a TLS client can tell our end from a truncation. Best effort: the
  // alert is tiny and the socket has nothing else queued (HalfClose waits for that).
  tls_->Shutdown();
  if (!tls_->Seal(&out_)) return;
  ByteBuffer& alert = tls_->ciphertext();
  if (alert.empty()) return;
  uv_buf_t buf = uv_buf_init(alert.data(), static_cast<unsigned>(alert.size()));
  uv_try_write(stream(), &buf, 1);
  alert.Release();
}

void ClientConnection::SendTlsAlert() {
  tls_->CollectOutput();
  ByteBuffer& alert = tls_->ciphertext();
  if (alert.empty()) return;
  uv_buf_t buf = uv_buf_init(alert.data(), static_cast<unsigned>(alert.size()));
  uv_try_write(stream(), &buf, 1);
  alert.Release();
}

bool ClientConnection::TlsHandshakePending() const {
  return tls_ != nullptr && !closing_ && !tls_->established();
}

void ClientConnection::Close() {
  if (closing_) return;
  closing_ = true;
  if (linger_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(linger_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    linger_ = nullptr;
  }
  // Requests still waiting for servers stay alive as orphans until their fragments return.
  if (counted_) {
    stats_->client_connections.Add(-1);
    pool_->ReleaseClient();
  }
  for (Request* request = head_; request != nullptr;) {
    Request* next = request->next;
    stats_->in_flight.Add(-1);
    if (request->done) {
      worker_->FreeRequest(request);
    } else {
      request->client = nullptr;
      request->next = nullptr;
    }
    request = next;
  }
  head_ = tail_ = nullptr;
  queued_ = 0;
  in_.Release();
  out_.Release();
  worker_->OnClientClosed(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), [](uv_handle_t* handle) {
    auto* self = static_cast<ClientConnection*>(handle->data);
    delete self->write_req_;
    delete self;
  });
}

}  // namespace ringproxy::proxy
