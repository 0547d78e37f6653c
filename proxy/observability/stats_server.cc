#include "observability/stats_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <utility>

#include "base/logger.h"
#include "net/socket_address.h"
#include "net/uv_handle.h"
#include "observability/http_request_parser.h"

namespace ringproxy::proxy {
namespace {

// Connections are accepted as fast as the loop turns; the backlog only absorbs a burst between
// two turns.
constexpr int kBacklog = 512;
// The kernel's send buffer of a connection. Left to autotuning, loopback and LAN sockets grow it
// to tcp_wmem's maximum (4 MiB), so a client that never reads makes the kernel keep a whole copy
// of a large document, charged to the process's memory cgroup; 64 KiB (doubled by the kernel)
// bounds that to 128 KiB a connection while a scrape still moves at 64 KiB per round trip.
constexpr int kSendBufferBytes = 64 << 10;

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// The status line and headers of a response whose body is `body_size` bytes.
// `extra_headers`: complete header lines, each ending in CRLF.
std::string HttpHead(int status, std::string_view content_type, size_t body_size,
                     std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += ReasonPhrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body_size);
  out += "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  return out;
}

std::string HttpResponse(int status, std::string_view content_type, std::string_view body,
                         bool head_only, std::string_view extra_headers = {}) {
  std::string out = HttpHead(status, content_type, body.size(), extra_headers);
  if (!head_only) out += body;
  return out;
}

std::string TextResponse(int status, std::string_view line, bool head_only = false,
                         std::string_view extra_headers = {}) {
  std::string body(line);
  body += "\n";
  return HttpResponse(status, "text/plain; charset=utf-8", body, head_only, extra_headers);
}

}  // namespace

// The server's own handles, in one allocation that outlives the server until their close
// callbacks have run.
struct StatsServer::LoopHandles {
  uv_tcp_t listener;
  // Active while a document is awaited: the next turn builds it (before the loop waits for I/O
  // again) and sends it to everyone who asked for it since.
  uv_idle_t turn;
  uv_timer_t log_timer;     // reports what the log throttles held back
  StatsServer* server;      // null once the server is gone
  int closing_handles = 0;  // CloseAllAndDeleteOwner
};

// One accepted client, from its first byte (or its silence) to its close. Owns two handles; frees
// itself once both close callbacks have run.
class StatsServer::Connection {
 public:
  explicit Connection(StatsServer* server) : server_(server) {
    tcp_.data = this;
    timer_.data = this;
  }

  // Where the connection sits in the server's list, oldest first.
  std::list<Connection*>::iterator position;

  // The handles are initialised here; from now on the connection ends only through Close().
  // Whatever the client sent before it was accepted is handled before this returns: a probe is
  // answered here. False: the connection is already closing.
  bool Begin(uv_stream_t* listener) {
    uv_tcp_init(server_->loop_, &tcp_);
    uv_timer_init(server_->loop_, &timer_);
    if (uv_accept(listener, stream()) != 0) {
      Close();
      return false;
    }
    uv_tcp_nodelay(&tcp_, 1);
    int send_buffer = kSendBufferBytes;
    uv_send_buffer_size(AsHandle(&tcp_), &send_buffer);
    Arm(server_->settings_.legacy_window_ms);
    const int rc = uv_read_start(
        stream(),
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
          auto* self = static_cast<Connection*>(handle->data);
          // Reads are handled as they land, so every connection reads into the server's buffer.
          *buf = self->server_ == nullptr
                     ? uv_buf_init(nullptr, 0)
                     : uv_buf_init(self->server_->read_buffer(),
                                   static_cast<unsigned>(self->server_->read_buffer_.size()));
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
          static_cast<Connection*>(stream->data)->OnRead(nread, buf);
        });
    if (rc != 0) {
      Close();
      return false;
    }
    ReadWhatArrived();
    return state_ != State::kClosing;
  }

  // Closes both handles at once (pending writes are cancelled). Idempotent.
  void Close() {
    if (state_ == State::kClosing) return;
    const bool awaiting = state_ == State::kAwaiting;
    state_ = State::kClosing;
    if (server_ != nullptr) {
      if (awaiting) server_->StopAwaiting(this);
      server_->Forget(this);
    }
    server_ = nullptr;
    body_.reset();
    CloseAllAndDeleteOwner(this, &tcp_, &timer_);
  }

  // The document asked for is ready: send it (shared with whoever else asked for it).
  void SendDocument(std::shared_ptr<const std::string> body) {
    if (state_ != State::kAwaiting) return;
    std::string head;
    if (!awaited_.raw) head = HttpHead(200, awaited_.content_type, body->size());
    if (awaited_.head_only) body.reset();
    Write(std::move(head), std::move(body));
  }

  int closing_handles = 0;  // CloseAllAndDeleteOwner

 private:
  enum class State {
    kWaiting,    // accepted, nothing received yet: HTTP client or nutcracker reader?
    kReading,    // reading an HTTP request head
    kAwaiting,   // waiting for a document, built at the end of the loop turn
    kWriting,    // the response is being written; input is discarded
    kLingering,  // response written and our side shut down; draining input until EOF
    kClosing,
  };

  // A document to send once it is built.
  struct Awaited {
    std::string_view content_type;
    bool raw = false;  // nutcracker's way: the document alone, no HTTP
    bool head_only = false;
  };

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void Arm(uint64_t timeout_ms) {
    uv_timer_start(
        &timer_, [](uv_timer_t* timer) { static_cast<Connection*>(timer->data)->OnTimer(); },
        timeout_ms, 0);
  }

  // A probe's request is usually in the socket before the connection is accepted: reading it
  // now answers it now, before a flood of connections can push this one out.
  void ReadWhatArrived() {
    uv_os_fd_t fd = -1;
    if (uv_fileno(AsHandle(&tcp_), &fd) != 0) return;
    char* buffer = server_->read_buffer();
    const ssize_t n = recv(fd, buffer, server_->read_buffer_.size(), MSG_DONTWAIT);
    if (n > 0) {
      const uv_buf_t buf = uv_buf_init(buffer, static_cast<unsigned>(n));
      OnRead(n, &buf);
    } else if (n == 0) {
      OnRead(UV_EOF, nullptr);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      Close();
    }
  }

  void OnTimer() {
    switch (state_) {
      case State::kWaiting:
        RespondLegacy();
        break;
      case State::kReading:
        if (parser_.have_request_line()) {
          Respond(TextResponse(408, "request not completed in time"));
        } else {
          RespondLegacy();  // no HTTP request line by now: answered as nutcracker would
        }
        break;
      case State::kAwaiting:   // (built at the end of the turn: cannot happen)
      case State::kWriting:    // the client does not take its response
      case State::kLingering:  // nor close its side
        Close();
        break;
      case State::kClosing:
        break;
    }
  }

  void OnRead(ssize_t nread, const uv_buf_t* buf) {
    if (state_ == State::kClosing) return;
    if (nread == UV_EOF) {
      OnEof();
      return;
    }
    if (nread < 0) {
      Close();
      return;
    }
    if (nread == 0) return;
    const std::string_view bytes(buf->base, static_cast<size_t>(nread));
    switch (state_) {
      case State::kWaiting:
        state_ = State::kReading;
        Arm(server_->settings_.request_timeout_ms);
        [[fallthrough]];
      case State::kReading:
        Parse(bytes);
        break;
      case State::kAwaiting:
      case State::kWriting:
      case State::kLingering:
      case State::kClosing:
        break;  // a body, a pipelined request or noise: not read, only drained
    }
  }

  void OnEof() {
    switch (state_) {
      case State::kWaiting:
        // `nc host port </dev/null` closes its side at once.
        peer_closed_ = true;
        RespondLegacy();
        break;
      case State::kReading:
        // No whole request line (empty lines, `echo stats | nc host port`): a nutcracker reader.
        peer_closed_ = true;
        if (parser_.have_request_line()) {
          Respond(TextResponse(400, "incomplete request"));
        } else {
          RespondLegacy();
        }
        break;
      case State::kAwaiting:
      case State::kWriting:
        peer_closed_ = true;
        break;
      case State::kLingering:
      case State::kClosing:
        Close();
        break;
    }
  }

  void Parse(std::string_view bytes) {
    switch (parser_.Feed(bytes)) {
      case HttpRequestParser::Status::kIncomplete:
        break;
      case HttpRequestParser::Status::kComplete:
        Deliver(server_->Route(parser_.method(), parser_.path()));
        break;
      case HttpRequestParser::Status::kNotHttp:
        // nutcracker sends its document whatever the client says.
        RespondLegacy();
        break;
      case HttpRequestParser::Status::kError:
        RP_LOG(kLogInfo, "stats: refused a request: %s", parser_.error_reason().c_str());
        Respond(TextResponse(parser_.error_status(), parser_.error_reason()));
        break;
    }
  }

  void Deliver(StatsServer::Answer answer) {
    if (answer.document == Document::kNone) {
      Respond(std::move(answer.response));
      return;
    }
    Await(answer.document, {answer.content_type, false, answer.head_only});
  }

  void RespondLegacy() { Await(Document::kJson, {{}, true, false}); }

  void Await(Document document, const Awaited& awaited) {
    state_ = State::kAwaiting;
    awaited_ = awaited;
    Arm(server_->settings_.response_timeout_ms);
    server_->Await(this, document);
  }

  void Respond(std::string response) { Write(std::move(response), nullptr); }

  // Writes `head` then `body` (either may be empty), then lingers.
  void Write(std::string head, std::shared_ptr<const std::string> body) {
    state_ = State::kWriting;
    head_ = std::move(head);
    body_ = std::move(body);
    Arm(server_->settings_.response_timeout_ms);
    std::array<uv_buf_t, 2> bufs{};
    unsigned count = 0;
    if (!head_.empty()) {
      bufs[count++] = uv_buf_init(head_.data(), static_cast<unsigned>(head_.size()));
    }
    if (body_ != nullptr && !body_->empty()) {
      // libuv only reads from the buffer; the body is shared and stays const.
      bufs[count++] =
          uv_buf_init(const_cast<char*>(body_->data()), static_cast<unsigned>(body_->size()));
    }
    if (count == 0) {
      OnWritten(0);
      return;
    }
    write_req_.data = this;
    const int rc =
        uv_write(&write_req_, stream(), bufs.data(), count, [](uv_write_t* req, int status) {
          static_cast<Connection*>(req->data)->OnWritten(status);
        });
    if (rc != 0) Close();
  }

  void OnWritten(int status) {
    if (state_ == State::kClosing) return;
    head_.clear();
    head_.shrink_to_fit();
    body_.reset();  // the last connection sending a document frees it
    if (status != 0 || peer_closed_) {
      Close();
      return;
    }
    state_ = State::kLingering;
    Arm(server_->settings_.linger_ms);
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, stream(), [](uv_shutdown_t*, int) {}) != 0) Close();
  }

  StatsServer* server_;  // null once closing (or once the server is gone)
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  State state_ = State::kWaiting;
  bool peer_closed_ = false;
  HttpRequestParser parser_;
  Awaited awaited_;
  std::string head_;  // the response, or the head of a document
  std::shared_ptr<const std::string> body_;
};

StatsServer::StatsServer(uv_loop_t* loop, Settings settings, Handlers handlers)
    : loop_(loop), settings_(std::move(settings)), handlers_(std::move(handlers)) {}

StatsServer::~StatsServer() { Close(); }

bool StatsServer::Start(std::string* error) {
  const std::string where = settings_.address + ":" + std::to_string(settings_.port);
  SocketAddress address;
  if (!ResolveAddress(settings_.address, settings_.port, "", &address, error)) {
    *error = "stats address " + where + ": " + *error;
    return false;
  }
  handles_ = new LoopHandles{};  // freed by the last of its handles' close callbacks
  handles_->server = this;
  uv_tcp_init(loop_, &handles_->listener);
  uv_idle_init(loop_, &handles_->turn);
  uv_timer_init(loop_, &handles_->log_timer);
  handles_->listener.data = handles_;
  handles_->turn.data = handles_;
  handles_->log_timer.data = handles_;
  int rc = uv_tcp_bind(&handles_->listener, address.get(), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&handles_->listener), kBacklog,
                   [](uv_stream_t* stream, int status) {
                     auto* handles = static_cast<LoopHandles*>(stream->data);
                     if (handles->server != nullptr) handles->server->OnConnection(status);
                   });
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  if (rc == 0) {
    rc = uv_tcp_getsockname(&handles_->listener, reinterpret_cast<sockaddr*>(&bound), &length);
  }
  if (rc != 0) {
    *error = "cannot listen on stats address " + where + ": " + uv_strerror(rc);
    Close();
    return false;
  }
  SocketAddress bound_address;
  std::memcpy(&bound_address.storage, &bound, sizeof(bound));
  bound_address.length = static_cast<socklen_t>(length);
  port_ = bound.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
              : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  RP_LOG(kLogNotice, "stats server listening on %s", bound_address.ToString().c_str());
  return true;
}

void StatsServer::Close() {
  if (handles_ != nullptr) {
    handles_->server = nullptr;
    CloseAllAndDeleteOwner(handles_, &handles_->listener, &handles_->turn, &handles_->log_timer);
    handles_ = nullptr;
  }
  // Close() removes each connection from the list: iterate over a copy.
  const std::vector<Connection*> open(connections_.begin(), connections_.end());
  for (Connection* connection : open) connection->Close();
}

void StatsServer::Forget(Connection* connection) { connections_.erase(connection->position); }

void StatsServer::OnConnection(int status) {
  if (status != 0) {
    // Out of descriptors, typically: as repeatable as connections arrive.
    uint64_t events = 0;
    if (accept_error_log_.Count(uv_now(loop_), &events)) {
      RP_LOG(kLogWarn, "stats: accept failed: %s (%llu time%s since the last message)",
             uv_strerror(status), static_cast<unsigned long long>(events), events == 1 ? "" : "s");
    }
    OnLogTimer();
    return;
  }
  auto* connection = new Connection(this);  // frees itself when closed
  connections_.push_back(connection);
  connection->position = std::prev(connections_.end());
  if (!connection->Begin(reinterpret_cast<uv_stream_t*>(&handles_->listener))) return;
  // Make room by closing the oldest: whoever holds connections open gives way to new ones.
  size_t shed = 0;
  while (connections_.size() > settings_.max_connections && !connections_.empty()) {
    connections_.front()->Close();
    ++shed;
  }
  if (shed > 0) LogShed(shed);
}

void StatsServer::LogShed(size_t count) {
  connections_shed_ += count;
  const uint64_t now = uv_now(loop_);
  for (size_t i = 0; i < count; ++i) {
    uint64_t events = 0;
    if (shed_log_.Count(now, &events)) {
      RP_LOG(kLogWarn,
             "stats: %zu connections open, the limit: closed the oldest to make room (%llu "
             "time%s since the last message)",
             settings_.max_connections, static_cast<unsigned long long>(events),
             events == 1 ? "" : "s");
    }
  }
  OnLogTimer();
}

void StatsServer::OnLogTimer() {
  // What the throttles held back is reported once its line is due, even if nothing follows.
  const uint64_t now = uv_now(loop_);
  uint64_t events = 0;
  if (shed_log_.Due(now, &events)) {
    RP_LOG(kLogWarn,
           "stats: %zu connections open, the limit: closed the oldest to make room (%llu time%s "
           "since the last message)",
           settings_.max_connections, static_cast<unsigned long long>(events),
           events == 1 ? "" : "s");
  }
  if (accept_error_log_.Due(now, &events)) {
    RP_LOG(kLogWarn, "stats: accept failed (%llu time%s since the last message)",
           static_cast<unsigned long long>(events), events == 1 ? "" : "s");
  }
  if (handles_ == nullptr || uv_is_active(AsHandle(&handles_->log_timer))) return;
  uint64_t next = 0;
  for (const LogThrottle* throttle : {&shed_log_, &accept_error_log_}) {
    if (throttle->pending() != 0 && (next == 0 || throttle->next_line_ms() < next)) {
      next = throttle->next_line_ms();
    }
  }
  if (next == 0) return;
  uv_timer_start(
      &handles_->log_timer,
      [](uv_timer_t* timer) {
        auto* handles = static_cast<LoopHandles*>(timer->data);
        if (handles->server != nullptr) handles->server->OnLogTimer();
      },
      next > now ? next - now : 0, 0);
}

void StatsServer::Await(Connection* connection, Document document) {
  waiting_[static_cast<size_t>(document) - 1].push_back(connection);
  if (handles_ == nullptr || uv_is_active(AsHandle(&handles_->turn))) return;
  uv_idle_start(&handles_->turn, [](uv_idle_t* idle) {
    auto* handles = static_cast<LoopHandles*>(idle->data);
    uv_idle_stop(idle);
    if (handles->server != nullptr) handles->server->OnLoopTurn();
  });
}

void StatsServer::StopAwaiting(Connection* connection) {
  for (std::vector<Connection*>& waiting : waiting_) std::erase(waiting, connection);
}

void StatsServer::OnLoopTurn() {
  for (const Document document : {Document::kJson, Document::kMetrics}) {
    std::vector<Connection*>& waiting = waiting_[static_cast<size_t>(document) - 1];
    if (waiting.empty()) continue;
    std::vector<Connection*> ready;
    ready.swap(waiting);
    const std::shared_ptr<const std::string> body = Serialise(document);
    for (Connection* connection : ready) connection->SendDocument(body);
  }
}

std::shared_ptr<const std::string> StatsServer::Serialise(Document document) {
  SharedDocument& shared = documents_[static_cast<size_t>(document) - 1];
  const uint64_t now = uv_now(loop_);
  if (std::shared_ptr<const std::string> body = shared.body.lock();
      body != nullptr && now - shared.built_ms < settings_.share_window_ms) {
    return body;
  }
  auto body = std::make_shared<const std::string>(
      document == Document::kJson ? handlers_.json() : handlers_.metrics());
  shared.body = body;
  shared.built_ms = now;
  return body;
}

StatsServer::Answer StatsServer::Route(const std::string& method, const std::string& path) {
  const bool head = method == "HEAD";
  auto respond = [](std::string response) {
    Answer answer;
    answer.response = std::move(response);
    return answer;
  };
  auto send = [head](Document document, std::string_view content_type) {
    Answer answer;
    answer.document = document;
    answer.content_type = content_type;
    answer.head_only = head;
    return answer;
  };
  if (method != "GET" && !head) {
    return respond(TextResponse(405, "method " + method + " not allowed: use GET or HEAD", false,
                                "Allow: GET, HEAD\r\n"));
  }
  if (path == "/metrics") {
    return send(Document::kMetrics, "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/" || path == "/stats") return send(Document::kJson, "application/json");
  if (path == "/healthz" || path == "/readyz") {
    const Probe probe = path == "/healthz" ? handlers_.health() : handlers_.ready();
    return respond(TextResponse(probe.ok ? 200 : 503, probe.reason, head));
  }
  return respond(TextResponse(404, "not found: try /metrics, /stats, /healthz or /readyz", head));
}

}  // namespace ringproxy::proxy
