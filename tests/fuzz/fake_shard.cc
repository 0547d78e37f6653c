#include "tests/fuzz/fake_shard.h"

#include <netinet/in.h>

#include <cctype>
#include <memory>

#include "dataplane/request_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace ringproxy::fuzz {
namespace {

using proxy::CommandKind;
using proxy::CommandSpec;
using proxy::LocalCommand;

std::string Bulk(std::string_view value) {
  return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n";
}

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

struct FakeShard::Connection {
  FakeShard* shard;
  uv_tcp_t handle;
  std::string in;
  proxy::RequestParser parser;
};

FakeShard::FakeShard(uv_loop_t* loop, uint32_t index) : loop_(loop), index_(index) {}

bool FakeShard::Listen(std::string* error) {
  uv_tcp_init(loop_, &server_);
  server_.data = this;
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", 0, &address);
  int rc = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 64, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<FakeShard*>(s->data)->OnConnection();
    });
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  if (rc == 0) rc = uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &length);
  if (rc != 0) {
    *error = std::string("fake shard: ") + uv_strerror(rc);
    return false;
  }
  port_ = ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  return true;
}

void FakeShard::OnConnection() {
  auto* connection = new Connection{this, {}, {}, proxy::RequestParser()};  // freed on close
  uv_tcp_init(loop_, &connection->handle);
  connection->handle.data = connection;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->handle);
  auto close = [](uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); };
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&server_), stream) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), close);
    return;
  }
  uv_read_start(
      stream,
      [](uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
        // Every read is consumed before the callback returns: one buffer serves all.
        FakeShard* shard = static_cast<Connection*>(handle->data)->shard;
        *buf = uv_buf_init(shard->read_buffer_, sizeof(shard->read_buffer_));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(s->data);
        c->shard->OnRead(c, nread, buf);
      });
}

void FakeShard::OnRead(Connection* connection, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    // The proxy closed the connection (it does so on its own errors and when it drains).
    FUZZ_CHECK(connection->in.empty(),
               "the proxy closed a connection to shard %u mid-request "
               "(%zu bytes pending)",
               index_, connection->in.size());
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle),
             [](uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); });
    return;
  }
  connection->in.append(buf->base, static_cast<size_t>(nread));
  std::string out;
  size_t offset = 0;
  std::vector<std::string_view> args;
  while (offset < connection->in.size()) {
    const char* data = connection->in.data() + offset;
    const size_t size = connection->in.size() - offset;
    const auto status = connection->parser.Parse(data, size);
    using Status = proxy::RequestParser::Status;
    if (status == Status::kIncomplete) break;
    FUZZ_CHECK(status == Status::kComplete,
               "the proxy sent shard %u bytes that are not a request (%s): '%s'", index_,
               status == Status::kEmpty ? "an empty request" : connection->parser.error().c_str(),
               Printable(std::string_view(data, size)).c_str());
    FUZZ_CHECK(!connection->parser.is_inline(), "the proxy sent shard %u an inline request: '%s'",
               index_, Printable(std::string_view(data, size)).c_str());
    args.clear();
    for (size_t i = 0; i < connection->parser.argc(); ++i) {
      args.push_back(connection->parser.arg(data, i));
    }
    Answer(args, &out);
    offset += connection->parser.consumed();
  }
  connection->in.erase(0, offset);
  if (out.empty()) return;
  auto* write = new WriteRequest{{}, std::move(out)};  // freed in its callback
  uv_buf_t reply = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  write->req.data = write;
  const int rc = uv_write(
      &write->req, reinterpret_cast<uv_stream_t*>(&connection->handle), &reply, 1,
      [](uv_write_t* req, int /*status*/) { delete static_cast<WriteRequest*>(req->data); });
  if (rc != 0) delete write;
}

bool FakeShard::KeysOf(const CommandSpec& spec, const std::vector<std::string_view>& args,
                       std::vector<std::string_view>* keys) {
  keys->clear();
  switch (spec.kind) {
    case CommandKind::kSingleKey:
      keys->push_back(args[static_cast<size_t>(spec.first_key)]);
      return true;
    case CommandKind::kMultiKey:
    case CommandKind::kTransaction: {
      std::vector<uint32_t> indices;
      if (proxy::CollectKeys(spec, args, &indices) != proxy::KeyScan::kOk) return false;
      for (const uint32_t i : indices) keys->push_back(args[i]);
      return !keys->empty();
    }
    case CommandKind::kSplitGet:
    case CommandKind::kSplitCount:
      keys->assign(args.begin() + 1, args.end());
      return !keys->empty();
    case CommandKind::kSplitSet:
      for (size_t i = 1; i < args.size(); i += 2) keys->push_back(args[i]);
      return !keys->empty();
    case CommandKind::kLocal:
    case CommandKind::kFanOut:
    case CommandKind::kUnsupported:
      return false;
  }
  return false;
}

std::string FakeShard::ReplyTo(const std::vector<std::string_view>& args) {
  const CommandSpec* spec = proxy::LookupCommand(args[0]);
  if (spec == nullptr) return "-ERR fake: unknown command\r\n";
  if (spec->local == LocalCommand::kAuth || spec->local == LocalCommand::kSelect) {
    return "+OK\r\n";
  }
  std::vector<std::string_view> keys;
  const bool has_keys = KeysOf(*spec, args, &keys);
  if (has_keys && keys[0].starts_with("err"))
    return "-ERR fake " + std::string(spec->name) + "\r\n";
  switch (spec->kind) {
    case CommandKind::kSplitGet: {
      std::string out = "*" + std::to_string(keys.size()) + "\r\n";
      for (const std::string_view key : keys) {
        out += key.starts_with("nil") ? std::string("$-1\r\n") : Bulk("v:" + std::string(key));
      }
      return out;
    }
    case CommandKind::kSplitSet:
      return "+OK\r\n";
    case CommandKind::kSplitCount:
      return ":" + std::to_string(keys.size()) + "\r\n";
    default: {
      std::string echo = "echo:";
      for (size_t i = 0; i < args.size(); ++i) {
        if (i > 0) echo += ' ';
        echo.append(args[i]);
      }
      return Bulk(echo);
    }
  }
}

void FakeShard::Answer(const std::vector<std::string_view>& args, std::string* out) {
  FUZZ_CHECK(placement_ != nullptr, "shard %u got a request before the proxy started", index_);
  const CommandSpec* spec = proxy::LookupCommand(args[0]);
  FUZZ_CHECK(spec != nullptr, "the proxy forwarded an unknown command '%s' to shard %u",
             Printable(args[0]).c_str(), index_);
  const bool handshake = spec->local == LocalCommand::kAuth || spec->local == LocalCommand::kSelect;
  FUZZ_CHECK(
      handshake || (spec->kind != CommandKind::kLocal && spec->kind != CommandKind::kUnsupported),
      "the proxy forwarded '%s', which it must answer itself, to shard %u",
      std::string(spec->name).c_str(), index_);
  FUZZ_CHECK(proxy::ArityOk(*spec, args.size()), "the proxy forwarded '%s' with %zu arguments",
             std::string(spec->name).c_str(), args.size());
  if (!handshake) {
    std::vector<std::string_view> keys;
    FUZZ_CHECK(KeysOf(*spec, args, &keys), "the proxy forwarded '%s' without a key to shard %u",
               std::string(spec->name).c_str(), index_);
    for (const std::string_view key : keys) {
      const uint32_t owner = placement_->ServerFor(key);
      FUZZ_CHECK(owner == index_, "key '%s' of '%s' reached shard %u; it belongs to shard %u",
                 Printable(key).c_str(), std::string(spec->name).c_str(), index_, owner);
    }
  }
  *out += ReplyTo(args);
}

}  // namespace ringproxy::fuzz
