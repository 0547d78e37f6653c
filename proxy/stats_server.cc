#include "proxy/stats_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <utility>

#include "proxy/http_request_parser.h"
#include "proxy/logger.h"
#include "proxy/topology.h"

namespace ringproxy::proxy {
namespace {

constexpr int kBacklog = 128;
constexpr size_t kReadChunk = 4096;

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

// `extra_headers`: complete header lines, each ending in CRLF.
std::string HttpResponse(int status, std::string_view content_type, std::string_view body,
                         bool head_only, std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += ReasonPhrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
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

struct StatsServer::Listener {
  uv_tcp_t tcp;
  StatsServer* server;  // null once the server is gone
};

// One accepted client, from its first byte (or its silence) to its close. Owns two handles; frees
// itself once both close callbacks have run.
class StatsServer::Connection {
 public:
  explicit Connection(StatsServer* server) : server_(server) {
    tcp_.data = this;
    timer_.data = this;
  }

  uv_tcp_t* tcp() { return &tcp_; }

  // The handles are initialised here; from now on the connection ends only through Close().
  bool Begin(uv_stream_t* listener) {
    uv_tcp_init(server_->loop_, &tcp_);
    uv_timer_init(server_->loop_, &timer_);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
      Close();
      return false;
    }
    uv_tcp_nodelay(&tcp_, 1);
    Arm(server_->settings_.legacy_window_ms);
    const int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp_),
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
          auto* self = static_cast<Connection*>(handle->data);
          *buf = uv_buf_init(self->read_buf_.data(), static_cast<unsigned>(self->read_buf_.size()));
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
          static_cast<Connection*>(stream->data)->OnRead(nread, buf);
        });
    if (rc != 0) {
      Close();
      return false;
    }
    return true;
  }

  // Closes both handles at once (pending writes are cancelled). Idempotent.
  void Close() {
    if (state_ == State::kClosing) return;
    state_ = State::kClosing;
    if (server_ != nullptr) server_->Forget(this);
    server_ = nullptr;
    auto on_close = [](uv_handle_t* handle) {
      auto* self = static_cast<Connection*>(handle->data);
      if (--self->open_handles_ == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
  }

 private:
  enum class State {
    kWaiting,    // accepted, nothing received yet: HTTP client or nutcracker reader?
    kReading,    // reading an HTTP request head
    kWriting,    // the response is being written; input is discarded
    kLingering,  // response written and our side shut down; draining input until EOF
    kClosing,
  };

  void Arm(uint64_t timeout_ms) {
    uv_timer_start(
        &timer_, [](uv_timer_t* timer) { static_cast<Connection*>(timer->data)->OnTimer(); },
        timeout_ms, 0);
  }

  void OnTimer() {
    switch (state_) {
      case State::kWaiting:
        RespondLegacy();
        break;
      case State::kReading:
        Respond(TextResponse(408, "request not completed in time"));
        break;
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
      case State::kWriting:
      case State::kLingering:
      case State::kClosing:
        break;  // a body, a pipelined request or noise: not read, only drained
    }
  }

  void OnEof() {
    switch (state_) {
      case State::kWaiting:
        RespondLegacy();  // `nc host port </dev/null` closes its side at once
        break;
      case State::kReading:
        // Only empty lines (`echo | nc host port`): no request at all, a nutcracker reader.
        if (parser_.blank_so_far()) {
          RespondLegacy();
        } else {
          Respond(TextResponse(400, "incomplete request"));
        }
        peer_closed_ = true;
        break;
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
        Respond(server_->Route(parser_.method(), parser_.path()));
        break;
      case HttpRequestParser::Status::kError:
        RP_LOG(kLogInfo, "stats: refused a request: %s", parser_.error_reason().c_str());
        Respond(TextResponse(parser_.error_status(), parser_.error_reason()));
        break;
    }
  }

  void RespondLegacy() {
    // nutcracker's readers get the document raw: no status line, no headers.
    Respond(server_->handlers_.json());
  }

  void Respond(std::string response) {
    state_ = State::kWriting;
    response_ = std::move(response);
    Arm(server_->settings_.request_timeout_ms);
    uv_buf_t buf = uv_buf_init(response_.data(), static_cast<unsigned>(response_.size()));
    write_req_.data = this;
    const int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
                            [](uv_write_t* req, int status) {
                              static_cast<Connection*>(req->data)->OnWritten(status);
                            });
    if (rc != 0) Close();
  }

  void OnWritten(int status) {
    if (state_ == State::kClosing) return;
    response_.clear();
    response_.shrink_to_fit();
    if (status != 0 || peer_closed_) {
      Close();
      return;
    }
    state_ = State::kLingering;
    Arm(server_->settings_.linger_ms);
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_),
                    [](uv_shutdown_t*, int) {}) != 0) {
      Close();
    }
  }

  StatsServer* server_;  // null once closing (or once the server is gone)
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  int open_handles_ = 2;
  State state_ = State::kWaiting;
  bool peer_closed_ = false;
  HttpRequestParser parser_;
  std::string response_;
  std::array<char, kReadChunk> read_buf_{};
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
  listener_ = new Listener{{}, this};  // freed by its close callback
  uv_tcp_init(loop_, &listener_->tcp);
  listener_->tcp.data = listener_;
  int rc = uv_tcp_bind(&listener_->tcp, address.get(), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_->tcp), kBacklog,
                   [](uv_stream_t* stream, int status) {
                     auto* listener = static_cast<Listener*>(stream->data);
                     if (listener->server != nullptr) listener->server->OnConnection(status);
                   });
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  if (rc == 0) {
    rc = uv_tcp_getsockname(&listener_->tcp, reinterpret_cast<sockaddr*>(&bound), &length);
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
  if (listener_ != nullptr) {
    listener_->server = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_->tcp),
             [](uv_handle_t* handle) { delete static_cast<Listener*>(handle->data); });
    listener_ = nullptr;
  }
  // Close() removes each connection from the set: iterate over a copy.
  const std::unordered_set<Connection*> open = connections_;
  for (Connection* connection : open) connection->Close();
}

void StatsServer::Forget(Connection* connection) { connections_.erase(connection); }

void StatsServer::OnConnection(int status) {
  if (status != 0) {
    RP_LOG(kLogWarn, "stats: accept failed: %s", uv_strerror(status));
    return;
  }
  auto* connection = new Connection(this);  // frees itself when closed
  if (!connection->Begin(reinterpret_cast<uv_stream_t*>(&listener_->tcp))) return;
  if (connections_.size() >= settings_.max_connections) {
    // Shed load at once rather than let readers pile up; a scraper retries.
    RP_LOG(kLogWarn, "stats: %zu connections open, closing a new one", connections_.size());
    connection->Close();
    return;
  }
  connections_.insert(connection);
}

std::string StatsServer::Route(const std::string& method, const std::string& path) {
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    return TextResponse(405, "method " + method + " not allowed: use GET or HEAD", false,
                        "Allow: GET, HEAD\r\n");
  }
  if (path == "/metrics") {
    return HttpResponse(200, "text/plain; version=0.0.4; charset=utf-8", handlers_.metrics(), head);
  }
  if (path == "/" || path == "/stats") {
    return HttpResponse(200, "application/json", handlers_.json(), head);
  }
  if (path == "/healthz" || path == "/readyz") {
    const Probe probe = path == "/healthz" ? handlers_.health() : handlers_.ready();
    return TextResponse(probe.ok ? 200 : 503, probe.reason, head);
  }
  return TextResponse(404, "not found: try /metrics, /stats, /healthz or /readyz", head);
}

}  // namespace ringproxy::proxy
