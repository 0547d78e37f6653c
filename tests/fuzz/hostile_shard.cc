#include "tests/fuzz/hostile_shard.h"

#include <netinet/in.h>

#include <cctype>
#include <utility>

#include "dataplane/reply_scanner.h"
#include "dataplane/request_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace ringproxy::fuzz {
namespace {

constexpr std::string_view kSelect = "SELECT";

std::string Printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 64)) {
    out += std::isprint(static_cast<unsigned char>(c)) != 0 ? c : '.';
  }
  return out;
}

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

}  // namespace

struct HostileShard::Connection {
  HostileShard* shard = nullptr;
  uv_tcp_t handle{};
  std::string in;
  proxy::RequestParser parser;
  Log* log = nullptr;
  bool finished = false;  // our FIN is sent (or queued): nothing more may be written
  bool closing = false;
};

HostileShard::HostileShard(uv_loop_t* loop, uint32_t index) : loop_(loop), index_(index) {}

bool HostileShard::Listen(std::string* error) {
  uv_tcp_init(loop_, &server_);
  server_.data = this;
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", 0, &address);
  int rc = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 64, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<HostileShard*>(s->data)->OnConnection();
    });
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  if (rc == 0) rc = uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &length);
  if (rc != 0) {
    *error = std::string("hostile shard: ") + uv_strerror(rc);
    return false;
  }
  port_ = ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  return true;
}

void HostileShard::Begin(std::vector<Action> script) {
  FUZZ_CHECK(open_ == 0, "shard %u still has %zu connections open at a new input", index_, open_);
  script_.assign(std::make_move_iterator(script.begin()), std::make_move_iterator(script.end()));
  logs_.clear();
}

void HostileShard::Finish() {
  // HalfClose may not remove from connections_, but iterate over a copy all the same.
  const std::vector<Connection*> open = connections_;
  for (Connection* connection : open) {
    if (!connection->finished && !connection->closing) HalfClose(connection);
  }
}

std::string HostileShard::CorrectReply(std::string_view request) {
  if (request == kSelect) return "+OK\r\n";
  const std::string value = "v:" + std::string(request);
  return "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
}

void HostileShard::OnConnection() {
  auto* connection = new Connection;  // freed in its close callback
  connection->shard = this;
  uv_tcp_init(loop_, &connection->handle);
  connection->handle.data = connection;
  ++open_;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->handle);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&server_), stream) != 0) {
    CloseConnection(connection);
    return;
  }
  logs_.push_back(std::make_unique<Log>());
  connection->log = logs_.back().get();
  connections_.push_back(connection);
  uv_read_start(
      stream,
      [](uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
        // Every read is consumed before the callback returns: one buffer serves all.
        HostileShard* shard = static_cast<Connection*>(handle->data)->shard;
        *buf = uv_buf_init(shard->read_buffer_, sizeof(shard->read_buffer_));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(s->data);
        c->shard->OnRead(c, nread, buf);
      });
}

void HostileShard::OnRead(Connection* connection, ssize_t nread, const uv_buf_t* buf) {
  ++activity_;
  if (nread < 0) {
    // The proxy closed the connection: after a reply it could not frame, a reply to no request,
    // or our FIN.
    CloseConnection(connection);
    return;
  }
  connection->in.append(buf->base, static_cast<size_t>(nread));
  size_t offset = 0;
  std::vector<std::string_view> args;
  std::string out;
  bool finish = false;
  while (offset < connection->in.size()) {
    const char* data = connection->in.data() + offset;
    const size_t size = connection->in.size() - offset;
    const auto status = connection->parser.Parse(data, size);
    using Status = proxy::RequestParser::Status;
    if (status == Status::kIncomplete) break;
    FUZZ_CHECK(status == Status::kComplete && !connection->parser.is_inline(),
               "the proxy sent shard %u bytes that are not a multibulk request: '%s'", index_,
               Printable(std::string_view(data, size)).c_str());
    args.clear();
    for (size_t i = 0; i < connection->parser.argc(); ++i) {
      args.push_back(connection->parser.arg(data, i));
    }
    offset += connection->parser.consumed();
    // After our FIN the proxy may still send what it sent before it saw the FIN: recorded (it
    // reached the shard, and is owed no reply) but not answered.
    if (Answer(connection, args, &out)) {
      finish = true;
      connection->finished = true;
    }
  }
  connection->in.erase(0, offset);
  if (!out.empty()) Send(connection, std::move(out));
  if (finish) HalfClose(connection);
}

bool HostileShard::Answer(Connection* connection, const std::vector<std::string_view>& args,
                          std::string* out) {
  Log* log = connection->log;
  const bool select = args.size() == 2 && args[0] == kSelect;
  const bool get = args.size() == 2 && args[0] == "GET";
  FUZZ_CHECK(select || get, "the proxy sent shard %u '%s' with %zu arguments", index_,
             Printable(args[0]).c_str(), args.size());
  FUZZ_CHECK(select == log->requests.empty(),
             "request %zu of a connection to shard %u is %s: the handshake comes first, once",
             log->requests.size(), index_, select ? "SELECT" : "a GET");
  if (get) {
    const uint32_t owner = placement_->ServerFor(args[1]);
    FUZZ_CHECK(owner == index_, "key '%s' reached shard %u; it belongs to shard %u",
               Printable(args[1]).c_str(), index_, owner);
    // The proxy holds requests until the server has accepted its SELECT: a reply was sent, and
    // it was not an error.
    proxy::ReplyScanner scanner;
    const std::string& sent = log->sent;
    const bool framed =
        scanner.Scan(sent.data(), sent.size()) == proxy::ReplyScanner::Status::kComplete;
    FUZZ_CHECK(framed && sent[0] != '-',
               "the proxy sent shard %u a GET before the shard accepted its SELECT (sent: '%s')",
               index_, Printable(sent).c_str());
  }
  log->requests.emplace_back(select ? args[0] : args[1]);
  if (connection->finished) return false;
  Action action;
  if (!script_.empty()) {
    action = std::move(script_.front());
    script_.pop_front();
  }
  const std::string correct = CorrectReply(log->requests.back());
  using Kind = Action::Kind;
  switch (action.kind) {
    case Kind::kCorrect:
      *out += correct;
      return false;
    case Kind::kInstead:
      *out += action.bytes;
      return false;
    case Kind::kAfter:
      *out += correct + action.bytes;
      return false;
    case Kind::kBefore:
      *out += action.bytes + correct;
      return false;
    case Kind::kFinish:
      return true;
    case Kind::kFinishAfter:
      *out += action.bytes;
      return true;
  }
  return false;
}

void HostileShard::Send(Connection* connection, std::string bytes) {
  connection->log->sent += bytes;
  auto* write = new WriteRequest{{}, std::move(bytes)};  // freed in its callback
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  write->req.data = write;
  const int rc = uv_write(
      &write->req, reinterpret_cast<uv_stream_t*>(&connection->handle), &buf, 1,
      [](uv_write_t* req, int /*status*/) { delete static_cast<WriteRequest*>(req->data); });
  if (rc != 0) delete write;
}

void HostileShard::HalfClose(Connection* connection) {
  connection->finished = true;
  if (connection->closing) return;
  auto* shutdown = new uv_shutdown_t;  // freed in its callback
  shutdown->data = connection;
  const int rc = uv_shutdown(shutdown, reinterpret_cast<uv_stream_t*>(&connection->handle),
                             [](uv_shutdown_t* req, int /*status*/) { delete req; });
  if (rc != 0) {
    delete shutdown;
    CloseConnection(connection);
  }
}

void HostileShard::CloseConnection(Connection* connection) {
  if (connection->closing) return;
  connection->closing = true;
  std::erase(connections_, connection);
  uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), [](uv_handle_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    --c->shard->open_;
    delete c;
  });
}

}  // namespace ringproxy::fuzz
