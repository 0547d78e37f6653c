#include "dataplane/server_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "base/byte_buffer.h"
#include "base/decimal.h"
#include "base/logger.h"
#include "dataplane/give_back.h"
#include "dataplane/request.h"
#include "dataplane/resp_writer.h"
#include "net/tls_session.h"

namespace ringproxy::proxy {
namespace {

constexpr unsigned kKeepaliveIdleS = 30;
constexpr int kKeepaliveIntervalS = 10;
constexpr int kKeepaliveProbes = 3;
constexpr int64_t kMinUserTimeoutMs = 5000;
constexpr unsigned kDefaultUserTimeoutMs = 30000;
// Which command a handshake fragment carries, in its (otherwise unused) index.
constexpr uint32_t kHandshakeAuth = 0;
constexpr uint32_t kHandshakeSelect = 1;
constexpr uint32_t kHandshakeHello = 2;

void AppendCommand(ByteBuffer* out, std::initializer_list<std::string_view> args) {
  resp::AppendArrayHeader(out, static_cast<int64_t>(args.size()));
  for (const std::string_view arg : args) resp::AppendBulk(out, arg);
}

}  // namespace

ServerConnection::ServerConnection(WorkerContext* context, ServerLink* server, Protocol protocol)
    : context_(context),
      server_(server),
      stream_(context->read_scratch(), this),
      protocol_(protocol) {}

ServerConnection::~ServerConnection() = default;

uint64_t ServerConnection::oldest_enqueued_ns() const {
  return fifo_.empty() ? 0 : fifo_.front()->enqueued_ns + fifo_.front()->patience_ns;
}

void ServerConnection::AskClientId() {
  if (client_id_asked_) return;
  client_id_asked_ = true;
  Fragment* fragment = context_->NewFragment();
  fragment->kind = FragmentKind::kClientId;
  Enqueue(fragment, "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n");
}

void ServerConnection::Connect(const SocketAddress& address) {
  address_ = address;
  int rc = 0;
  connect_req_.data = this;
  if (address.is_unix()) {
    stream_.InitPipe(context_->loop());
    const auto* un = reinterpret_cast<const sockaddr_un*>(address.get());
    uv_pipe_connect(&connect_req_, stream_.pipe(), un->sun_path, [](uv_connect_t* req, int status) {
      static_cast<ServerConnection*>(req->data)->OnConnect(status);
    });
  } else {
    stream_.InitTcp(context_->loop());
    uv_tcp_nodelay(stream_.tcp(), 1);
    // Keepalive always: a pod whose IP vanished sends no RST, and an idle connection to it would
    // otherwise look healthy until the next request times out.
    uv_tcp_keepalive(stream_.tcp(), 1, kKeepaliveIdleS);
    rc = uv_tcp_connect(&connect_req_, stream_.tcp(), address.get(),
                        [](uv_connect_t* req, int status) {
                          static_cast<ServerConnection*>(req->data)->OnConnect(status);
                        });
    if (rc == 0) SetDeadPeerTimeouts();
  }
  QueueHandshake();
  if (rc != 0) {
    // The handle is initialised: Close() can fail the queue and release it the usual way.
    Close(rc);
  }
}

void ServerConnection::SetDeadPeerTimeouts() {
  uv_os_fd_t fd = -1;
  if (uv_fileno(stream_.handle(), &fd) != 0) return;
  const int interval = kKeepaliveIntervalS;
  const int count = kKeepaliveProbes;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  // Sent data unacknowledged this long aborts the connection (ETIMEDOUT) even when the pool has
  // no request timeout; with one, the request timeout acts first and this is the backstop.
  const int64_t timeout = server_->pool_config().timeout_ms;
  const unsigned user_timeout_ms =
      timeout > 0 ? static_cast<unsigned>(std::max<int64_t>(2 * timeout, kMinUserTimeoutMs))
                  : kDefaultUserTimeoutMs;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

void ServerConnection::QueueHandshake() {
  const config::PoolConfig& pool = server_->pool_config();
  size_t queued_bytes = out_.size();
  auto queue_internal = [this, &queued_bytes](uint32_t step) {
    Fragment* fragment = context_->NewFragment();
    fragment->kind = FragmentKind::kHandshake;
    fragment->index = step;
    ++handshake_pending_;
    fragment->enqueued_ns = context_->now_ns();
    fragment->bytes = out_.size() - queued_bytes;
    queued_bytes = out_.size();
    fifo_.push_back(fragment);
    ++unsent_;
    unsent_bytes_ += fragment->bytes;
    server_->stats().in_queue.Add(1);
    server_->stats().in_queue_bytes.Add(fragment->bytes);
  };
  // AUTH before SELECT: a server that requires a password refuses SELECT until authenticated.
  if (!pool.server_auth_user.empty()) {
    AppendCommand(&out_, {"AUTH", pool.server_auth_user, pool.server_password()});
    queue_internal(kHandshakeAuth);
  } else if (!pool.server_password().empty()) {
    AppendCommand(&out_, {"AUTH", pool.server_password()});
    queue_internal(kHandshakeAuth);
  }
  if (pool.redis_db > 0) {
    const std::string db = std::to_string(pool.redis_db);
    AppendCommand(&out_, {"SELECT", db});
    queue_internal(kHandshakeSelect);
  }
  // Last: HELLO checks authentication, and its reply is the first in RESP3.
  if (protocol_ == Protocol::kResp3) {
    AppendCommand(&out_, {"HELLO", "3"});
    queue_internal(kHandshakeHello);
  }
}

void ServerConnection::OnConnect(int status) {
  if (state_ == State::kClosing) return;
  if (status != 0) {
    server_->LogConnectFailure(address_, uv_strerror(status));
    server_->stats().connect_failures.Add();
    Close(status);
    return;
  }
  state_ = State::kConnected;
  server_->stats().server_connections.Add(1);
  if (const std::shared_ptr<const TlsContext>& context = server_->tls_context()) {
    stream_.set_tls(TlsSession::Connect(context, server_->config().host));
    if (stream_.tls() == nullptr) {
      Close(UV_ENOMEM);
      return;
    }
  }
  const int rc = stream_.StartReading<ServerConnection>();
  if (rc != 0) {
    Close(rc);
    return;
  }
  if (stream_.tls() == nullptr) OnReady();
  // With TLS, the first flush sends the ClientHello; requests follow the handshake.
  if (!out_.empty() || stream_.tls() != nullptr) ScheduleFlush();
}

void ServerConnection::OnReady() {
  const TlsSession* tls = stream_.tls();
  RP_LOG(kLogInfo, "connected to %s%s%s", server_->Where(address_).c_str(),
         tls != nullptr ? " over " : "", tls != nullptr ? tls->Description().c_str() : "");
}

void ServerConnection::Enqueue(Fragment* fragment, std::string_view bytes) {
  fragment->enqueued_ns = context_->now_ns();
  fragment->bytes = bytes.size();
  fifo_.push_back(fragment);
  ++unsent_;
  unsent_bytes_ += bytes.size();
  server_->stats().in_queue.Add(1);
  server_->stats().in_queue_bytes.Add(static_cast<int64_t>(bytes.size()));
  if (handshake_pending_ > 0) {
    held_requests_.Append(bytes);
    ++held_count_;
    held_bytes_ += bytes.size();
    return;
  }
  out_.Append(bytes);
  if (state_ == State::kConnected) ScheduleFlush();
}

void ServerConnection::SendUnanswered(std::string_view bytes) {
  if (state_ == State::kClosing) return;
  if (handshake_pending_ > 0) {
    held_requests_.Append(bytes);
    return;
  }
  out_.Append(bytes);
  if (state_ == State::kConnected) ScheduleFlush();
}

void ServerConnection::EnqueueBlock(std::span<Fragment* const> fragments, std::string_view bytes) {
  const uint64_t now = context_->now_ns();
  for (size_t i = 0; i < fragments.size(); ++i) {
    Fragment* fragment = fragments[i];
    fragment->enqueued_ns = now;
    // The queue-size stats count the block's bytes once, with its first request.
    fragment->bytes = i == 0 ? bytes.size() : 0;
    fifo_.push_back(fragment);
  }
  unsent_ += fragments.size();
  unsent_bytes_ += bytes.size();
  server_->stats().in_queue.Add(static_cast<int64_t>(fragments.size()));
  server_->stats().in_queue_bytes.Add(static_cast<int64_t>(bytes.size()));
  if (handshake_pending_ > 0) {
    held_requests_.Append(bytes);
    held_count_ += fragments.size();
    held_bytes_ += bytes.size();
    return;
  }
  out_.Append(bytes);
  if (state_ == State::kConnected) ScheduleFlush();
}

void ServerConnection::Flush() {
  if (state_ != State::kConnected || stream_.write_in_flight()) return;
  ByteBuffer* pending = stream_.Seal(&out_);
  if (pending == nullptr) {
    RP_LOG(kLogWarn, "%s: TLS failed: %s", server_->Where(address_).c_str(),
           stream_.tls()->error().c_str());
    Close(UV_EPROTO);
    return;
  }
  if (!pending->empty()) {
    // Few server connections, always busy: their write buffer is worth keeping.
    const ssize_t written = stream_.Write<ServerConnection>(pending, /*keep_capacity=*/true);
    if (written < 0) {
      Close(static_cast<int>(written));
      return;
    }
  }
  // What left out_ is with the socket now, written or queued. (With TLS, requests queued during
  // the handshake are still in out_.)
  if (!out_.empty()) return;
  written_ = fifo_.size() - held_count_;
  if (!stream_.write_in_flight()) MarkSent();
}

void ServerConnection::OnWritten(int status) {
  if (status != 0) {
    Close(status);
    return;
  }
  if (stream_.write_in_flight()) return;
  const TlsSession* tls = stream_.tls();
  if (!out_.empty() || (tls != nullptr && !tls->ciphertext().empty())) {
    ScheduleFlush();
    return;
  }
  MarkSent();
}

void ServerConnection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (state_ == State::kClosing) return;
  context_->UpdateClock();
  if (nread < 0) {
    if (nread == UV_EOF) {
      server_->stats().server_eof.Add();
    } else {
      server_->stats().server_err.Add();
    }
    RP_LOG(kLogWarn, "%s closed the connection: %s", server_->Where(address_).c_str(),
           uv_strerror(static_cast<int>(nread)));
    Close(nread == UV_EOF ? UV_ECONNRESET : static_cast<int>(nread));
    return;
  }
  if (nread == 0) return;
  const auto n = static_cast<size_t>(nread);
  if (stream_.tls() != nullptr) {
    ReadTls(buf->base, n);
  } else {
    stream_.Deliver(this, buf->base, n);
  }
}

void ServerConnection::ReadTls(const char* data, size_t size) {
  TlsSession* tls = stream_.tls();
  const bool was_established = tls->established();
  if (!stream_.ReadTls(this, data, size)) {
    if (tls->closed_by_peer()) {
      server_->stats().server_eof.Add();
      Close(UV_ECONNRESET);
    } else if (!tls->established()) {
      // A failed handshake is a failed connect: counted, logged (rate-limited) and ejected as
      // one, with OpenSSL's reason (an unverifiable certificate, a name mismatch...).
      server_->LogConnectFailure(address_, "TLS handshake failed: " + tls->error());
      server_->stats().connect_failures.Add();
      Close(UV_EPROTO);
    } else {
      RP_LOG(kLogWarn, "%s: TLS failed: %s", server_->Where(address_).c_str(),
             tls->error().c_str());
      server_->stats().server_err.Add();
      Close(UV_EPROTO);
    }
    return;
  }
  if (state_ == State::kClosing) return;
  if (!was_established && tls->established()) OnReady();
  if (tls->has_output() || (tls->established() && !out_.empty())) ScheduleFlush();
}

size_t ServerConnection::ProcessReplies(const char* data, size_t size) {
  size_t offset = 0;
  while (offset < size) {
    const ReplyScanner::Status status = scanner_.Scan(data + offset, size - offset);
    if (status == ReplyScanner::Status::kIncomplete) break;
    if (status == ReplyScanner::Status::kComplete && scanner_.type() == '>') [[unlikely]] {
      // A push (RESP3) answers no request: the features that send them to a client's
      // connection (tracking, pub/sub) are not passed through, so nobody is waiting for it.
      RP_LOG(kLogDebug, "%s sent a push message; dropped", server_->Where(address_).c_str());
      offset += scanner_.size();
      continue;
    }
    // A reply when every request it could answer is still unwritten answers none of them,
    // unless this is a subscriber connection, where every frame after the handshake is one.
    if (status == ReplyScanner::Status::kError || written_ == 0) [[unlikely]] {
      if (sink_ != nullptr && fifo_.empty() && status == ReplyScanner::Status::kComplete) {
        const std::string_view frame(data + offset, scanner_.size());
        offset += scanner_.size();
        server_->stats().responses.Add();
        server_->stats().response_bytes.Add(frame.size());
        sink_->OnSubscriberFrame(this, frame);
        if (state_ == State::kClosing) return offset;
        continue;
      }
      // The stream cannot be followed past this point: every request on this connection fails,
      // and only those (other connections and servers are untouched).
      const std::string why =
          status == ReplyScanner::Status::kError
              ? "a reply it cannot frame (" + std::string(scanner_.error()) + ")"
              : std::string("a reply to no request");
      RP_LOG(kLogError, "%s sent %s; closing the connection and failing its %zu requests",
             server_->Where(address_).c_str(), why.c_str(), fifo_.size());
      server_->stats().server_err.Add();
      Close(UV_EPROTO);
      return offset;
    }
    Fragment* fragment = fifo_.front();
    fifo_.pop_front();
    --written_;
    ServerStats& stats = server_->stats();
    stats.responses.Add();
    stats.response_bytes.Add(scanner_.size());
    stats.out_queue.Add(-1);
    stats.out_queue_bytes.Add(-static_cast<int64_t>(fragment->bytes));
    if (scanner_.is_error()) stats.error_replies.Add();
    stats.latency.Observe((context_->now_ns() - fragment->enqueued_ns) / 1000);
    const std::string_view reply(data + offset, scanner_.size());
    offset += scanner_.size();
    if (fragment->kind > FragmentKind::kQuiet) [[unlikely]] {
      if (!OnOwnReply(fragment, reply)) return offset;
      continue;
    }
    if (abandoned_) [[unlikely]] {
      GiveBack(fragment, reply);
    }
    server_->OnResponse(reply);
    context_->CompleteFragment(fragment, reply);
  }
  if (retiring_ && fifo_.empty()) Close(0);
  return offset;
}

bool ServerConnection::OnOwnReply(Fragment* fragment, std::string_view reply) {
  switch (fragment->kind) {
    case FragmentKind::kHandshake:
      return OnHandshakeReply(fragment, reply);
    case FragmentKind::kClientId: {
      int64_t id = 0;
      if (reply.size() > 3 && reply.front() == ':' &&
          ParseDecimal(reply.substr(1, reply.size() - 3), &id) && id > 0) {
        client_id_ = static_cast<uint64_t>(id);
      }
      break;
    }
    case FragmentKind::kGiveBack:
      if (!reply.empty() && reply.front() == '-') {
        RP_LOG(kLogError,
               "%s refused to take back what a blocking command took for a client that left "
               "(%.*s): that is lost",
               server_->Where(address_).c_str(), static_cast<int>(reply.size() - 2), reply.data());
      }
      break;
    default:
      break;
  }
  context_->CompleteFragment(fragment, reply);
  return true;
}

void ServerConnection::GiveBack(const Fragment* fragment, std::string_view reply) {
  const Request* request = fragment->request;
  if (fragment->kind != FragmentKind::kRequest || request == nullptr ||
      request->client != nullptr || request->give_back_args.empty()) {
    return;
  }
  const std::string command = GiveBackCommand(request->give_back_args, reply);
  if (command.empty()) return;
  RP_LOG(kLogNotice, "%s served a blocking %s after its client left; giving back what it took",
         server_->Where(address_).c_str(), request->give_back_args[0].c_str());
  Fragment* back = context_->NewFragment();
  back->kind = FragmentKind::kGiveBack;
  Enqueue(back, command);
}

bool ServerConnection::OnHandshakeReply(Fragment* fragment, std::string_view reply) {
  const uint32_t step = fragment->index;
  const char* command = step == kHandshakeAuth     ? "AUTH"
                        : step == kHandshakeSelect ? "SELECT"
                                                   : "HELLO 3";
  context_->CompleteFragment(fragment, reply);
  --handshake_pending_;
  // HELLO 3 is answered with a map; AUTH and SELECT with +OK.
  const bool accepted =
      step == kHandshakeHello
          ? reply.starts_with('%') || server_->AcceptHandshakeReply(address_, command, reply)
          : server_->AcceptHandshakeReply(address_, command, reply);
  if (!accepted) {
    // Not counted as the server's failure (a configuration that does not match the server is
    // no reason to eject it); every request waiting here gets the server's own refusal, or,
    // when it answered with something else than an error, the proxy's.
    const bool is_error = !reply.empty() && reply.front() == '-';
    Close(0, is_error ? reply
                      : "-ERR the server answered the proxy's handshake with a reply that "
                        "is not +OK\r\n");
    return false;
  }
  if (handshake_pending_ == 0 && !held_requests_.empty()) {
    out_.Append(held_requests_.view());
    held_requests_.Release();
    held_count_ = 0;
    held_bytes_ = 0;
    ScheduleFlush();
  }
  return true;
}

void ServerConnection::QueueFlush() {
  flush_scheduled_ = true;
  context_->QueueFlush(this);
}

void ServerConnection::Retire() {
  retiring_ = true;
  if (fifo_.empty()) Close(0);
}

void ServerConnection::MarkSent() {
  // Everything written is now with the kernel: those requests move from in_queue to out_queue.
  // Requests held until the handshake is accepted stay where they are.
  const size_t sent = unsent_ - held_count_;
  const size_t sent_bytes = unsent_bytes_ - held_bytes_;
  ServerStats& stats = server_->stats();
  stats.in_queue.Add(-static_cast<int64_t>(sent));
  stats.out_queue.Add(static_cast<int64_t>(sent));
  stats.in_queue_bytes.Add(-static_cast<int64_t>(sent_bytes));
  stats.out_queue_bytes.Add(static_cast<int64_t>(sent_bytes));
  unsent_ = held_count_;
  unsent_bytes_ = held_bytes_;
}

void ServerConnection::Close(int error, std::string_view reply) {
  if (state_ == State::kClosing) return;
  // Copied first: `reply` may point into the carried-over input, released below.
  std::string failure(reply);
  if (failure.empty()) {
    failure = "-ERR ";
    failure += std::strerror(error < 0 ? -error : error);
    failure += "\r\n";
  }
  const bool was_connected = state_ == State::kConnected;
  state_ = State::kClosing;
  ServerStats& stats = server_->stats();
  if (was_connected) stats.server_connections.Add(-1);
  if (error == UV_ETIMEDOUT) stats.server_timedout.Add();
  size_t fifo_bytes = 0;
  for (const Fragment* fragment : fifo_) fifo_bytes += fragment->bytes;
  stats.in_queue.Add(-static_cast<int64_t>(unsent_));
  stats.out_queue.Add(-static_cast<int64_t>(fifo_.size() - unsent_));
  stats.in_queue_bytes.Add(-static_cast<int64_t>(unsent_bytes_));
  stats.out_queue_bytes.Add(-static_cast<int64_t>(fifo_bytes - unsent_bytes_));
  unsent_ = 0;
  written_ = 0;
  unsent_bytes_ = 0;
  held_count_ = 0;
  held_bytes_ = 0;
  server_->OnConnectionClosed(this, error);
  // Settle every queued fragment before anything else can run: each one's request gets the
  // error in place of its reply.
  std::deque<Fragment*> failed;
  failed.swap(fifo_);
  for (Fragment* fragment : failed) {
    if (fragment->kind == FragmentKind::kRequest) server_->CountForwardError();
    context_->CompleteFragment(fragment, failure);
  }
  if (PinHolder* holder = std::exchange(holder_, nullptr)) holder->OnPinnedConnectionLost();
  if (SubscriberSink* sink = std::exchange(sink_, nullptr)) sink->OnSubscriberLost(this);
  out_.Release();
  held_requests_.Release();
  stream_.Close<ServerConnection>();
}

}  // namespace ringproxy::proxy
