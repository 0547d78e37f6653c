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
#include "base/logger.h"
#include "dataplane/request.h"
#include "dataplane/resp_writer.h"
#include "dataplane/server.h"
#include "dataplane/server_pool.h"
#include "dataplane/worker.h"
#include "net/tls_session.h"
#include "net/write_chunk.h"

namespace ringproxy::proxy {
namespace {

constexpr size_t kMinReadSize = 16u << 10;
constexpr unsigned kKeepaliveIdleS = 30;
constexpr int kKeepaliveIntervalS = 10;
constexpr int kKeepaliveProbes = 3;
constexpr int64_t kMinUserTimeoutMs = 5000;
constexpr unsigned kDefaultUserTimeoutMs = 30000;
// Which command a handshake fragment carries, in its (otherwise unused) index.
constexpr uint32_t kHandshakeAuth = 0;
constexpr uint32_t kHandshakeSelect = 1;

void AppendCommand(ByteBuffer* out, std::initializer_list<std::string_view> args) {
  resp::AppendArrayHeader(out, static_cast<int64_t>(args.size()));
  for (const std::string_view arg : args) resp::AppendBulk(out, arg);
}

}  // namespace

ServerConnection::ServerConnection(Worker* worker, Server* server)
    : worker_(worker), server_(server) {
  handle_.tcp.data = this;
}

ServerConnection::~ServerConnection() = default;

uint64_t ServerConnection::oldest_enqueued_ns() const {
  return fifo_.empty() ? 0 : fifo_.front()->enqueued_ns;
}

void ServerConnection::Connect(const SocketAddress& address) {
  address_ = address;
  int rc = 0;
  if (address.is_unix()) {
    uv_pipe_init(worker_->loop(), &handle_.pipe, 0);
    handle_.pipe.data = this;
    connect_req_.data = this;
    const auto* un = reinterpret_cast<const sockaddr_un*>(address.get());
    uv_pipe_connect(&connect_req_, &handle_.pipe, un->sun_path, [](uv_connect_t* req, int status) {
      static_cast<ServerConnection*>(req->data)->OnConnect(status);
    });
  } else {
    uv_tcp_init(worker_->loop(), &handle_.tcp);
    handle_.tcp.data = this;
    uv_tcp_nodelay(&handle_.tcp, 1);
    // Keepalive always: a pod whose IP vanished sends no RST, and an idle connection to it would
    // otherwise look healthy until the next request times out.
    uv_tcp_keepalive(&handle_.tcp, 1, kKeepaliveIdleS);
    connect_req_.data = this;
    rc = uv_tcp_connect(&connect_req_, &handle_.tcp, address.get(),
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
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&handle_), &fd) != 0) return;
  const int interval = kKeepaliveIntervalS;
  const int count = kKeepaliveProbes;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  // Sent data unacknowledged this long aborts the connection (ETIMEDOUT) even when the pool has
  // no request timeout; with one, the request timeout acts first and this is the backstop.
  const int64_t timeout = server_->pool()->config().timeout_ms;
  const unsigned user_timeout_ms =
      timeout > 0 ? static_cast<unsigned>(std::max<int64_t>(2 * timeout, kMinUserTimeoutMs))
                  : kDefaultUserTimeoutMs;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

void ServerConnection::QueueHandshake() {
  const config::PoolConfig& pool = server_->pool()->config();
  size_t queued_bytes = out_.size();
  auto queue_internal = [this, &queued_bytes](uint32_t step) {
    Fragment* fragment = worker_->NewFragment();
    fragment->kind = FragmentKind::kHandshake;
    fragment->index = step;
    ++handshake_pending_;
    fragment->enqueued_ns = worker_->now_ns();
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
  if (const std::shared_ptr<const TlsContext>& context = server_->pool()->tls().servers) {
    tls_ = TlsSession::Connect(context, server_->config().host);
    if (tls_ == nullptr) {
      Close(UV_ENOMEM);
      return;
    }
  }
  const int rc = uv_read_start(
      stream(),
      [](uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
        auto* self = static_cast<ServerConnection*>(handle->data);
        if (self->tls_ != nullptr) {
          *buf = uv_buf_init(self->worker_->tls_scratch(), Worker::kScratchSize);
        } else if (self->in_.empty()) {
          self->reading_from_scratch_ = true;
          *buf = uv_buf_init(self->worker_->scratch(), Worker::kScratchSize);
        } else {
          self->reading_from_scratch_ = false;
          const size_t want = self->InputWant();
          *buf = uv_buf_init(self->in_.PrepareAppend(want), static_cast<unsigned>(want));
        }
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<ServerConnection*>(s->data)->OnRead(nread, buf);
      });
  if (rc != 0) {
    Close(rc);
    return;
  }
  if (tls_ == nullptr) OnReady();
  // With TLS, the first flush sends the ClientHello; requests follow the handshake.
  if (!out_.empty() || tls_ != nullptr) worker_->ScheduleFlush(this);
}

void ServerConnection::OnReady() {
  RP_LOG(kLogInfo, "connected to %s%s%s", server_->Where(address_).c_str(),
         tls_ != nullptr ? " over " : "", tls_ != nullptr ? tls_->Description().c_str() : "");
}

size_t ServerConnection::InputWant() const {
  // Room for the rest of an awaited bulk, but never more than the bytes already received: the
  // buffer doubles as the reply arrives, so a length the server only announces costs nothing.
  const size_t expected = scanner_.expected_size();
  const size_t have = in_.size();
  if (expected <= have) return kMinReadSize;
  return std::min(expected - have, std::max(kMinReadSize, have));
}

void ServerConnection::Enqueue(Fragment* fragment, std::string_view bytes) {
  fragment->enqueued_ns = worker_->now_ns();
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
  if (state_ == State::kConnected) worker_->ScheduleFlush(this);
}

void ServerConnection::EnqueueBlock(std::span<Fragment* const> fragments, std::string_view bytes) {
  const uint64_t now = worker_->now_ns();
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
  if (state_ == State::kConnected) worker_->ScheduleFlush(this);
}

void ServerConnection::Flush() {
  if (state_ != State::kConnected || write_in_flight_) return;
  ByteBuffer* pending = &out_;
  if (tls_ != nullptr) {
    if (!tls_->Seal(&out_)) {
      RP_LOG(kLogWarn, "%s: TLS failed: %s", server_->Where(address_).c_str(),
             tls_->error().c_str());
      Close(UV_EPROTO);
      return;
    }
    pending = &tls_->ciphertext();
  }
  if (pending->empty()) return;
  uv_buf_t buf = WriteChunk(pending);
  const int written = uv_try_write(stream(), &buf, 1);
  // Few server connections, always busy: their write buffer is worth keeping.
  if (written > 0) pending->ConsumeKeep(static_cast<size_t>(written));
  if (written < 0 && written != UV_EAGAIN) {
    Close(written);
    return;
  }
  if (pending->empty()) {
    // (With TLS, requests queued during the handshake are still in out_.)
    if (out_.empty()) MarkSent();
    return;
  }
  // The socket is full: hand the rest to libuv and keep it alive until the callback.
  writing_ = std::move(*pending);
  WriteNextChunk();
}

void ServerConnection::WriteNextChunk() {
  uv_buf_t buf = WriteChunk(&writing_);
  writing_chunk_ = buf.len;
  write_req_.data = this;
  const int rc = uv_write(&write_req_, stream(), &buf, 1, [](uv_write_t* req, int status) {
    static_cast<ServerConnection*>(req->data)->OnWriteDone(status);
  });
  if (rc != 0) {
    Close(rc);
    return;
  }
  write_in_flight_ = true;
}

void ServerConnection::OnWriteDone(int status) {
  write_in_flight_ = false;
  if (state_ == State::kClosing) {
    writing_.Release();
    return;
  }
  if (status != 0) {
    writing_.Release();
    Close(status);
    return;
  }
  writing_.Consume(writing_chunk_);
  if (!writing_.empty()) {
    WriteNextChunk();
    return;
  }
  if (!out_.empty() || (tls_ != nullptr && !tls_->ciphertext().empty())) {
    worker_->ScheduleFlush(this);
    return;
  }
  MarkSent();
}

void ServerConnection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (state_ == State::kClosing) return;
  worker_->UpdateClock();
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
  if (tls_ != nullptr) {
    ReadTls(buf->base, n);
  } else {
    ProcessInput(buf->base, n, reading_from_scratch_);
  }
}

void ServerConnection::ProcessInput(const char* data, size_t size, bool in_scratch) {
  if (in_scratch) {
    const size_t used = ProcessReplies(data, size);
    if (state_ != State::kClosing && used < size) in_.Append(data + used, size - used);
  } else {
    in_.Commit(size);
    const size_t used = ProcessReplies(in_.data(), in_.size());
    if (state_ != State::kClosing) in_.Consume(used);
  }
}

void ServerConnection::ReadTls(const char* data, size_t size) {
  const bool was_established = tls_->established();
  tls_->Receive(data, size);
  while (state_ != State::kClosing) {
    const bool in_scratch = in_.empty();
    const size_t capacity = in_scratch ? Worker::kScratchSize : InputWant();
    char* dst = in_scratch ? worker_->scratch() : in_.PrepareAppend(capacity);
    const ssize_t got = tls_->Read(dst, capacity);
    if (got < 0) {
      if (tls_->closed_by_peer()) {
        server_->stats().server_eof.Add();
        Close(UV_ECONNRESET);
      } else if (!tls_->established()) {
        // A failed handshake is a failed connect: counted, logged (rate-limited) and ejected as
        // one, with OpenSSL's reason (an unverifiable certificate, a name mismatch...).
        server_->LogConnectFailure(address_, "TLS handshake failed: " + tls_->error());
        server_->stats().connect_failures.Add();
        Close(UV_EPROTO);
      } else {
        RP_LOG(kLogWarn, "%s: TLS failed: %s", server_->Where(address_).c_str(),
               tls_->error().c_str());
        server_->stats().server_err.Add();
        Close(UV_EPROTO);
      }
      return;
    }
    if (got == 0) break;
    ProcessInput(dst, static_cast<size_t>(got), in_scratch);
  }
  if (state_ == State::kClosing) return;
  if (!was_established && tls_->established()) OnReady();
  if (tls_->has_output() || (tls_->established() && !out_.empty())) {
    worker_->ScheduleFlush(this);
  }
}

size_t ServerConnection::ProcessReplies(const char* data, size_t size) {
  size_t offset = 0;
  while (offset < size) {
    const ReplyScanner::Status status = scanner_.Scan(data + offset, size - offset);
    if (status == ReplyScanner::Status::kIncomplete) break;
    if (status == ReplyScanner::Status::kError || fifo_.empty()) {
      // The stream cannot be followed past this point: every request on this connection fails,
      // and only those (other connections and servers are untouched).
      const std::string why =
          status == ReplyScanner::Status::kError
              ? "a reply it cannot frame (" + std::string(scanner_.error()) + ")"
              : std::string("a reply to no request");
      RP_LOG(kLogError,
             "pool '%s' server '%s' (%s) sent %s; closing the connection and failing its %zu "
             "requests",
             server_->pool()->config().name.c_str(), server_->config().name.c_str(),
             address_.ToString().c_str(), why.c_str(), fifo_.size());
      server_->stats().server_err.Add();
      Close(UV_EPROTO);
      return offset;
    }
    Fragment* fragment = fifo_.front();
    fifo_.pop_front();
    ServerStats& stats = server_->stats();
    stats.responses.Add();
    stats.response_bytes.Add(scanner_.size());
    stats.out_queue.Add(-1);
    stats.out_queue_bytes.Add(-static_cast<int64_t>(fragment->bytes));
    if (scanner_.type() == '-') stats.error_replies.Add();
    stats.latency.Observe((worker_->now_ns() - fragment->enqueued_ns) / 1000);
    const std::string_view reply(data + offset, scanner_.size());
    offset += scanner_.size();
    if (fragment->kind == FragmentKind::kHandshake) {
      if (!OnHandshakeReply(fragment, reply)) return offset;
      continue;
    }
    server_->OnResponse(reply);
    worker_->CompleteFragment(fragment, reply);
  }
  if (retiring_ && fifo_.empty()) Close(0);
  return offset;
}

bool ServerConnection::OnHandshakeReply(Fragment* fragment, std::string_view reply) {
  const char* command = fragment->index == kHandshakeAuth ? "AUTH" : "SELECT";
  worker_->CompleteFragment(fragment, reply);
  --handshake_pending_;
  if (!server_->AcceptHandshakeReply(address_, command, reply)) {
    // Not counted as the server's failure (a configuration that does not match the server is
    // no reason to eject it); every request waiting here gets the server's own refusal.
    Close(0, reply);
    return false;
  }
  if (handshake_pending_ == 0 && !held_requests_.empty()) {
    out_.Append(held_requests_.view());
    held_requests_.Release();
    held_count_ = 0;
    held_bytes_ = 0;
    worker_->ScheduleFlush(this);
  }
  return true;
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
  // Copied first: `reply` may point into in_, released below.
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
  unsent_bytes_ = 0;
  held_count_ = 0;
  held_bytes_ = 0;
  server_->OnConnectionClosed(this, error);
  // Settle every queued fragment before anything else can run: each one's request gets the
  // error in place of its reply.
  std::deque<Fragment*> failed;
  failed.swap(fifo_);
  for (Fragment* fragment : failed) {
    if (fragment->kind == FragmentKind::kRequest) server_->pool()->stats().forward_error.Add();
    worker_->CompleteFragment(fragment, failure);
  }
  if (PinHolder* holder = std::exchange(holder_, nullptr)) holder->OnPinnedConnectionLost();
  out_.Release();
  in_.Release();
  held_requests_.Release();
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_),
           [](uv_handle_t* handle) { delete static_cast<ServerConnection*>(handle->data); });
}

}  // namespace ringproxy::proxy
