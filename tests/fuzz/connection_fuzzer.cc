// Fuzz target: a whole client connection. Arbitrary client bytes go through a real, in-process
// ringproxy — Proxy::Start with one worker thread, exactly as the binary runs it — routing, split
// and merge included, against fake shards (fake_shard.h) that check what reaches them.
//
//   fuzzer thread: one libuv loop running the fake shards (TCP, 127.0.0.1, ephemeral ports) and
//                  the client (a unix socket: one connection per input, and unix sockets leave
//                  no TIME_WAIT behind to run out of ports over millions of inputs)
//   worker thread: the proxy, two pools — "plain" over three shards, and "auth" over two, with a
//                  password (NOAUTH until AUTH s3cret) and redis_db 1 (the SELECT handshake)
//
// Per input: the pool is chosen from a hash of the input; the input is written in input-chosen
// pieces; replies are read until every request the input holds has its reply (and, after a
// protocol error or QUIT, until the proxy closes), within a time bound. Checked:
// - every reply is well-formed RESP (ReplyScanner), and there are never more replies than
//   requests: a QUIT sent after the input, when the input ends on a request boundary, must get
//   exactly "+OK" and then the connection's end;
// - each reply belongs to its request: forwarded commands come back as the shard's echo of that
//   request, MGET as "v:<key>" per key in key order, MSET as +OK, DEL and friends as the key
//   count — unless the reply is an error;
// - the shards see only well-formed multibulk requests for commands the proxy may forward, each
//   key on the shard that owns it (fake_shard.h);
// - the proxy closes the connection after a protocol error or QUIT, and not before;
// - no crash, no sanitizer report, no leak.
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.h"
#include "dataplane/command_table.h"
#include "base/logger.h"
#include "dataplane/proxy.h"
#include "dataplane/reply_scanner.h"
#include "dataplane/request_parser.h"
#include "dataplane/topology.h"
#include "tests/fuzz/fake_shard.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/split_points.h"

namespace ringproxy::fuzz {
namespace {

using proxy::CommandKind;
using proxy::CommandSpec;
using proxy::LocalCommand;
using proxy::RequestParser;

// Far above any answer time on a loaded machine; reaching it means the proxy hung.
constexpr uint64_t kDeadlineMs = 10000;
constexpr size_t kMaxPieces = 4;
constexpr size_t kPlainShards = 3;
constexpr size_t kAuthShards = 2;
constexpr std::string_view kQuit = "*1\r\n$4\r\nQUIT\r\n";

std::string Printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += (c >= 32 && c < 127) ? c : '.';
    }
  }
  return out;
}

std::string Bulk(std::string_view value) {
  return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n";
}

// One pool of the proxy under test, with its shards.
struct Pool {
  std::string socket_path;
  std::vector<std::unique_ptr<FakeShard>> shards;
};

// Everything that lives across inputs. Created once and never destroyed: the worker thread is
// drained at exit (atexit), and the rest goes with the process.
struct World {
  uv_loop_t loop{};
  std::string directory;
  Pool plain;
  Pool auth;
  proxy::Proxy* proxy = nullptr;
};

World* g_world = nullptr;

std::string PoolText(const std::string& name, const Pool& pool, const std::string& extra) {
  std::string text = name + ":\n  listen: " + pool.socket_path +
                     "\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n"
                     "  hash_tag: \"{}\"\n" +
                     extra + "  servers:\n";
  for (size_t i = 0; i < pool.shards.size(); ++i) {
    text += "    - 127.0.0.1:" + std::to_string(pool.shards[i]->port()) + ":1 s" +
            std::to_string(i) + "\n";
  }
  return text;
}

void StartShards(World* world, Pool* pool, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    pool->shards.push_back(std::make_unique<FakeShard>(&world->loop, static_cast<uint32_t>(i)));
    std::string error;
    FUZZ_CHECK(pool->shards.back()->Listen(&error), "%s", error.c_str());
  }
}

void StopProxyAtExit() {
  if (g_world == nullptr || g_world->proxy == nullptr) return;
  // Nothing is in flight between inputs, so the worker drains at once.
  g_world->proxy->Drain();
  g_world->proxy->Join();
  std::error_code ignored;
  std::filesystem::remove_all(g_world->directory, ignored);
}

World* SetUp() {
  // A client write after the proxy closed must be an error return, not a signal.
  signal(SIGPIPE, SIG_IGN);
  proxy::Logger::Instance().set_level(proxy::kLogError);
  auto* world = new World;
  uv_loop_init(&world->loop);
  char directory[] = "/tmp/ringproxy-fuzz-XXXXXX";
  FUZZ_CHECK(mkdtemp(directory) != nullptr, "mkdtemp failed");
  world->directory = directory;
  world->plain.socket_path = world->directory + "/plain.sock";
  world->auth.socket_path = world->directory + "/auth.sock";
  StartShards(world, &world->plain, kPlainShards);
  StartShards(world, &world->auth, kAuthShards);

  const std::string text = PoolText("plain", world->plain, "") +
                           PoolText("auth", world->auth, "  redis_auth: s3cret\n  redis_db: 1\n");
  const config::LoadResult loaded = config::LoadConfigString(text, "connection_fuzzer.yml");
  FUZZ_CHECK(loaded.ok(), "%s", loaded.error.ToString().c_str());
  std::string error;
  std::shared_ptr<const proxy::Topology> topology = proxy::Topology::Build(*loaded.config, &error);
  FUZZ_CHECK(topology != nullptr, "%s", error.c_str());
  for (size_t i = 0; i < kPlainShards; ++i) {
    world->plain.shards[i]->set_placement(&topology->pools[0].placement);
  }
  for (size_t i = 0; i < kAuthShards; ++i) {
    world->auth.shards[i]->set_placement(&topology->pools[1].placement);
  }
  world->proxy = new proxy::Proxy;
  proxy::ProxySettings settings;
  settings.workers = 1;
  FUZZ_CHECK(world->proxy->Start(topology, settings, &error), "%s", error.c_str());
  g_world = world;
  std::atexit(StopProxyAtExit);
  return world;
}

// What the proxy owes the client for one input.
struct Expected {
  struct Request {
    std::vector<std::string> args;
    const CommandSpec* spec = nullptr;
  };
  std::vector<Request> requests;  // complete requests, each owed one reply, in order
  bool protocol_error = false;    // then one more reply (the error), and the proxy closes
  bool quit = false;              // the last request is QUIT: the proxy closes after its reply
  bool leftover = false;          // the input ends inside a request

  size_t replies() const { return requests.size() + (protocol_error ? 1 : 0); }
  bool closes() const { return protocol_error || quit; }
};

Expected Expect(std::string_view input) {
  Expected expected;
  RequestParser parser;  // the proxy's default limits, as its workers use them
  size_t offset = 0;
  while (offset < input.size()) {
    const char* data = input.data() + offset;
    const auto status = parser.Parse(data, input.size() - offset);
    if (status == RequestParser::Status::kIncomplete) {
      expected.leftover = true;
      break;
    }
    if (status == RequestParser::Status::kError) {
      expected.protocol_error = true;
      break;
    }
    if (status == RequestParser::Status::kComplete) {
      Expected::Request request;
      for (size_t i = 0; i < parser.argc(); ++i) request.args.emplace_back(parser.arg(data, i));
      request.spec = proxy::LookupCommand(request.args[0]);
      const bool quit = request.spec != nullptr && request.spec->local == LocalCommand::kQuit &&
                        proxy::ArityOk(*request.spec, request.args.size());
      expected.requests.push_back(std::move(request));
      if (quit) {
        expected.quit = true;
        break;
      }
    }
    offset += parser.consumed();
  }
  return expected;
}

// Checks `reply`, the answer to `request` (an error is always a possible answer).
void CheckReply(const Expected::Request& request, std::string_view reply, size_t index) {
  if (reply[0] == '-') return;
  const CommandSpec* spec = request.spec;
  const std::string shown = Printable(reply);
  FUZZ_CHECK(spec != nullptr && spec->kind != CommandKind::kUnsupported,
             "reply %zu to '%s', which no server runs, is not an error: %s", index,
             Printable(request.args[0]).c_str(), shown.c_str());
  std::vector<std::string_view> args(request.args.begin(), request.args.end());
  std::string expected;
  switch (spec->kind) {
    case CommandKind::kLocal:
      if (spec->local == LocalCommand::kPing && args.size() == 1) expected = "+PONG\r\n";
      if (spec->local == LocalCommand::kEcho) expected = Bulk(args[1]);
      if (spec->local == LocalCommand::kQuit) expected = "+OK\r\n";
      break;
    default:
      expected = FakeShard::ReplyTo(args);
      break;
  }
  if (expected.empty()) return;
  FUZZ_CHECK(reply == expected, "reply %zu to '%s': %s, expected %s", index,
             Printable(request.args[0]).c_str(), shown.c_str(), Printable(expected).c_str());
}

// The client side of one input, on the fuzzer's loop.
class Client {
 public:
  Client(uv_loop_t* loop, const Expected* expected) : loop_(loop), expected_(expected) {
    uv_pipe_init(loop, &pipe_, 0);
    pipe_.data = this;
    uv_timer_init(loop, &deadline_);
    deadline_.data = this;
  }

  void Connect(const std::string& path) {
    connect_.data = this;
    uv_pipe_connect(&connect_, &pipe_, path.c_str(), [](uv_connect_t* req, int status) {
      auto* self = static_cast<Client*>(req->data);
      self->connected_ = true;
      FUZZ_CHECK(status == 0, "connecting to the proxy: %s", uv_strerror(status));
      uv_read_start(
          reinterpret_cast<uv_stream_t*>(&self->pipe_),
          [](uv_handle_t* /*handle*/, size_t /*suggested*/, uv_buf_t* buf) {
            static thread_local char chunk[64 << 10];
            *buf = uv_buf_init(chunk, sizeof(chunk));
          },
          [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
            static_cast<Client*>(s->data)->OnRead(nread, buf);
          });
    });
    RunUntil([this] { return connected_; }, "the connection");
  }

  // Writes `bytes` and waits until the kernel has them. A write the proxy refuses (it closed
  // after a protocol error or QUIT) is fine only when such a close is due.
  void Write(std::string_view bytes) {
    uv_write_t req;
    req.data = this;
    bool done = false;
    write_done_ = &done;
    uv_buf_t buf =
        uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
    const int rc = uv_write(&req, reinterpret_cast<uv_stream_t*>(&pipe_), &buf, 1,
                            [](uv_write_t* r, int status) {
                              auto* self = static_cast<Client*>(r->data);
                              *self->write_done_ = true;
                              self->write_status_ = status;
                            });
    if (rc != 0) {
      write_status_ = rc;
      done = true;
    }
    RunUntil([&done] { return done; }, "a write");
    FUZZ_CHECK(write_status_ == 0 || expected_->closes(), "writing to the proxy: %s",
               uv_strerror(write_status_));
  }

  // Waits until every reply owed has arrived, and the end of the connection when one is due.
  void AwaitReplies() {
    RunUntil([this] { return eof_ || (replies_ >= expected_->replies() && !expected_->closes()); },
             "the replies");
    FUZZ_CHECK(replies_ == expected_->replies(),
               "%zu replies for %zu owed before the connection ended (%zu bytes unparsed: %s)",
               replies_, expected_->replies(), in_.size(), Printable(in_).c_str());
    FUZZ_CHECK(in_.empty(), "bytes after the last reply: %s", Printable(in_).c_str());
  }

  // Sends QUIT and expects "+OK" as the very next reply, then the end of the connection: a
  // spurious extra reply would be seen here.
  void CheckNothingMore() {
    quitting_ = true;
    Write(kQuit);
    RunUntil([this] { return eof_; }, "the reply to QUIT and the close");
    FUZZ_CHECK(quit_reply_ == "+OK\r\n" && in_.empty(),
               "after the last reply, QUIT got '%s' "
               "(then '%s')",
               Printable(quit_reply_).c_str(), Printable(in_).c_str());
  }

  void Close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_),
             [](uv_handle_t* h) { static_cast<Client*>(h->data)->closed_ = true; });
    while (!closed_) uv_run(loop_, UV_RUN_ONCE);
  }

  size_t replies() const { return replies_; }

 private:
  template <class Done>
  void RunUntil(Done done, const char* what) {
    timed_out_ = false;
    uv_timer_start(
        &deadline_, [](uv_timer_t* t) { static_cast<Client*>(t->data)->timed_out_ = true; },
        kDeadlineMs, 0);
    while (!done() && !timed_out_) uv_run(loop_, UV_RUN_ONCE);
    uv_timer_stop(&deadline_);
    FUZZ_CHECK(!timed_out_,
               "no sign of %s from the proxy within %llu ms: %zu of %zu replies, "
               "%zu bytes unparsed: %s",
               what, static_cast<unsigned long long>(kDeadlineMs), replies_, expected_->replies(),
               in_.size(), Printable(in_).c_str());
  }

  void OnRead(ssize_t nread, const uv_buf_t* buf) {
    if (nread < 0) {
      eof_ = true;
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe_));
      return;
    }
    in_.append(buf->base, static_cast<size_t>(nread));
    while (!in_.empty()) {
      proxy::ReplyScanner scanner;
      const auto status = scanner.Scan(in_.data(), in_.size());
      FUZZ_CHECK(status != proxy::ReplyScanner::Status::kError,
                 "a malformed reply after %zu good ones: %s", replies_, Printable(in_).c_str());
      if (status == proxy::ReplyScanner::Status::kIncomplete) return;
      const std::string_view reply(in_.data(), scanner.size());
      if (quitting_ && quit_reply_.empty()) {
        quit_reply_ = std::string(reply);
      } else {
        FUZZ_CHECK(replies_ < expected_->replies(), "reply %zu for %zu requests: %s", replies_ + 1,
                   expected_->replies(), Printable(reply).c_str());
        if (replies_ < expected_->requests.size()) {
          CheckReply(expected_->requests[replies_], reply, replies_);
        } else {
          FUZZ_CHECK(reply.starts_with("-ERR Protocol error"), "the reply to a protocol error: %s",
                     Printable(reply).c_str());
        }
        ++replies_;
      }
      in_.erase(0, scanner.size());
    }
  }

  uv_loop_t* loop_;
  const Expected* expected_;
  uv_pipe_t pipe_{};
  uv_connect_t connect_{};
  uv_timer_t deadline_{};
  bool* write_done_ = nullptr;
  int write_status_ = 0;
  std::string in_;
  std::string quit_reply_;
  size_t replies_ = 0;
  bool connected_ = false;
  bool eof_ = false;
  bool quitting_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
};

}  // namespace
}  // namespace ringproxy::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringproxy::fuzz;  // NOLINT(google-build-using-namespace)
  static World* world = SetUp();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Expected expected = Expect(input);
  std::vector<size_t> cuts = SplitPoints(data, size, kMaxPieces - 1);
  // The hash that placed the cuts also picks the pool: one input in four meets the password.
  const bool auth_pool = size > 0 && (cuts.size() + data[size - 1]) % 4 == 0;
  Client client(&world->loop, &expected);
  client.Connect(auth_pool ? world->auth.socket_path : world->plain.socket_path);
  cuts.push_back(size);
  size_t start = 0;
  for (const size_t end : cuts) {
    if (end > start) client.Write(input.substr(start, end - start));
    start = end;
  }
  client.AwaitReplies();
  if (!expected.closes() && !expected.leftover) client.CheckNothingMore();
  client.Close();
  return 0;
}
