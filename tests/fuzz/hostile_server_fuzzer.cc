// Fuzz target: servers that answer with anything. A real, in-process ringproxy (Proxy::Start, one
// worker thread) forwards a client's GETs to two shards (hostile_shard.h) whose replies the fuzz
// input writes: correct ones, garbage, absurd lengths, replies to no request, replies cut across
// requests, a FIN in the middle. Whatever they send, the proxy must not crash, and each reply it
// hands the client must be the one that belongs to the request.
//
//   fuzzer thread: one libuv loop running both shards (TCP, 127.0.0.1) and the client (a unix
//                  socket)
//   worker thread: the proxy, one pool over the two shards with redis_db 1, so that every server
//                  connection starts with a SELECT whose reply the input writes too
//
// The input:
//   <plan>\n<action>\n--\n<action>\n--\n...
// <plan> is what the client does, one character at a time: '0' or '1' a GET of a key of that
// shard (written together with the GETs before it: a pipeline), '|' a wait for the replies so
// far; anything else is skipped. Each action is for shard (its first byte & 1) and answers the
// next request that shard receives (its SELECTs included), by its second byte:
//   C          the correct reply ("+OK" to SELECT, "v:<key>" to GET <key>)
//   A<bytes>   the correct reply, then <bytes>        B<bytes>  <bytes>, then the correct reply
//   X          no reply, a FIN                        S<bytes>  <bytes>, then a FIN
//   F<n>:<bytes>  <bytes>, then n bytes of 'x'        N<n>:<bytes>  <bytes> n times
//   anything else: the action's bytes after the first, sent instead of the reply
// (F and N add at most 1 MiB over the whole input). A shard whose actions have run out answers
// correctly.
//
// Checked, per input, once the client has every reply (the shards send a FIN to whatever
// connection still waits, after the proxy has been quiet for a moment):
// - every request gets exactly one reply, in order, and a QUIT after them gets "+OK" and the
//   connection's end (no reply arrives twice, none for a request that was not made);
// - a request that reached a shard as the k-th request of its connection gets the k-th reply
//   framed in what that shard sent on that connection, byte for byte, when that reply and every
//   one before it are well formed; otherwise an error — for the proxy must then have closed that
//   connection and failed its requests, and only those; replies are framed here by ReplyScanner
//   over the connection's whole stream at once, while the proxy frames them read by read;
// - a request that never reached a shard gets an error, or a reply its shard sent beyond the
//   requests it received on a connection (the proxy takes the stream's next reply for a request
//   it has queued but not yet written), never one that belongs to another request;
// - what reaches the shards is well formed, on the shard owning the key, and no GET before the
//   shard accepted the connection's SELECT (hostile_shard.h);
// - no crash, no sanitizer report, no leak, no hang.
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/logger.h"
#include "config/config_loader.h"
#include "dataplane/proxy.h"
#include "dataplane/reply_scanner.h"
#include "dataplane/topology.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/hostile_shard.h"

namespace ringproxy::fuzz {
namespace {

using Action = HostileShard::Action;

constexpr size_t kShards = 2;
constexpr size_t kMaxRequests = 64;
constexpr size_t kMaxFill = 1u << 20;
constexpr std::string_view kSeparator = "\n--\n";
// Far above any answer time on a loaded machine; reaching it means the proxy hung.
constexpr uint64_t kDeadlineMs = 10000;
// The proxy counts as settled when nothing moved on any socket of ours for this long. Too short
// a wait only ends an input sooner (the shards' FIN then fails what was still on its way, which
// the checks allow), never a false report.
constexpr uint64_t kSettleMs = 3;
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
  if (text.size() > 200) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// What the input asks for.
struct Scenario {
  std::string plan;  // '0' and '1' GETs, '|' waits
  std::vector<Action> scripts[kShards];
};

// "<n>:<bytes>" of F and N; false when it is not that.
bool CountAndBytes(std::string_view text, size_t* count, std::string_view* bytes) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + colon, *count);
  if (error != std::errc() || end != text.data() + colon) return false;
  *bytes = text.substr(colon + 1);
  return true;
}

// One action; F and N draw their bytes from `*budget` (kMaxFill for a whole input).
Action ParseAction(std::string_view chunk, size_t* budget) {
  Action action;
  using Kind = Action::Kind;
  const std::string_view rest = chunk.size() > 2 ? chunk.substr(2) : std::string_view();
  size_t count = 0;
  std::string_view bytes;
  const char letter = chunk.size() > 1 ? chunk[1] : 'C';
  switch (letter) {
    case 'C':
      action.kind = Kind::kCorrect;
      return action;
    case 'X':
      action.kind = Kind::kFinish;
      return action;
    case 'A':
    case 'B':
    case 'S':
      action.kind = letter == 'A'   ? Kind::kAfter
                    : letter == 'B' ? Kind::kBefore
                                    : Kind::kFinishAfter;
      action.bytes = std::string(rest);
      return action;
    case 'F':
    case 'N':
      if (!CountAndBytes(rest, &count, &bytes)) break;
      action.kind = Kind::kInstead;
      action.bytes = std::string(bytes);
      if (letter == 'F') {
        count = std::min(count, *budget);
        action.bytes.append(count, 'x');
      } else {
        count = bytes.empty() ? 0 : std::min(count, *budget / bytes.size());
        action.bytes.clear();
        for (size_t i = 0; i < count; ++i) action.bytes.append(bytes);
        count *= bytes.size();
      }
      *budget -= count;
      return action;
    default:
      break;
  }
  action.kind = Kind::kInstead;
  action.bytes = std::string(chunk.substr(1));
  return action;
}

Scenario ParseInput(std::string_view input) {
  Scenario scenario;
  const size_t plan_end = std::min(input.find('\n'), input.size());
  size_t requests = 0;
  for (const char c : input.substr(0, plan_end)) {
    if ((c == '0' || c == '1') && requests < kMaxRequests) {
      scenario.plan += c;
      ++requests;
    }
    if (c == '|') scenario.plan += c;
  }
  if (scenario.plan.find_first_of("01") == std::string::npos) scenario.plan = "01";
  std::string_view rest = plan_end < input.size() ? input.substr(plan_end + 1) : "";
  size_t budget = kMaxFill;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find(kSeparator), rest.size());
    const std::string_view chunk = rest.substr(0, end);
    if (!chunk.empty()) scenario.scripts[chunk[0] & 1].push_back(ParseAction(chunk, &budget));
    rest.remove_prefix(std::min(rest.size(), end + kSeparator.size()));
  }
  return scenario;
}

// Everything that lives across inputs. Created once and never destroyed: the worker thread is
// drained at exit (atexit), and the rest goes with the process.
struct World {
  uv_loop_t loop{};
  std::string directory;
  std::string socket_path;
  std::vector<std::unique_ptr<HostileShard>> shards;
  std::shared_ptr<const proxy::Topology> topology;
  const hashing::Placement* placement = nullptr;
  proxy::Proxy* proxy = nullptr;
  // keys[s][n]: the key of the n-th request of an input when it goes to shard s.
  std::vector<std::string> keys[kShards];
};

World* g_world = nullptr;

void StopProxyAtExit() {
  if (g_world == nullptr || g_world->proxy == nullptr) return;
  g_world->proxy->Drain();
  g_world->proxy->Join();
  std::error_code ignored;
  std::filesystem::remove_all(g_world->directory, ignored);
}

World* SetUp() {
  signal(SIGPIPE, SIG_IGN);
  // The proxy logs every hostile reply as an error: expected here, and too many to print.
  proxy::Logger::Instance().set_level(proxy::kLogCrit);
  auto* world = new World;
  uv_loop_init(&world->loop);
  char directory[] = "/tmp/ringproxy-fuzz-XXXXXX";
  FUZZ_CHECK(mkdtemp(directory) != nullptr, "mkdtemp failed");
  world->directory = directory;
  world->socket_path = world->directory + "/hostile.sock";
  std::string text = "hostile:\n  listen: " + world->socket_path +
                     "\n  redis: true\n  hash: murmur\n  distribution: ketama\n  redis_db: 1\n"
                     "  servers:\n";
  for (uint32_t i = 0; i < kShards; ++i) {
    world->shards.push_back(std::make_unique<HostileShard>(&world->loop, i));
    std::string error;
    FUZZ_CHECK(world->shards.back()->Listen(&error), "%s", error.c_str());
    text += "    - 127.0.0.1:" + std::to_string(world->shards.back()->port()) + ":1 s" +
            std::to_string(i) + "\n";
  }
  const config::LoadResult loaded = config::LoadConfigString(text, "hostile_server_fuzzer.yml");
  FUZZ_CHECK(loaded.ok(), "%s", loaded.error.ToString().c_str());
  std::string error;
  world->topology = proxy::Topology::Build(*loaded.config, &error);
  FUZZ_CHECK(world->topology != nullptr, "%s", error.c_str());
  world->placement = &world->topology->pools[0].placement;
  for (const auto& shard : world->shards) shard->set_placement(world->placement);
  // Distinct keys, each owned by the shard it is listed for.
  for (size_t n = 0; n < kMaxRequests; ++n) {
    for (size_t s = 0; s < kShards; ++s) {
      for (size_t j = 0;; ++j) {
        const std::string key = "r" + std::to_string(n) + "." + std::to_string(j);
        if (world->placement->ServerFor(key) == s) {
          world->keys[s].push_back(key);
          break;
        }
      }
    }
  }
  world->proxy = new proxy::Proxy;
  proxy::ProxySettings settings;
  settings.workers = 1;
  FUZZ_CHECK(world->proxy->Start(world->topology, settings, &error), "%s", error.c_str());
  g_world = world;
  std::atexit(StopProxyAtExit);
  return world;
}

// The client side of one input, on the fuzzer's loop.
class Client {
 public:
  explicit Client(World* world) : world_(world) {
    uv_pipe_init(&world->loop, &pipe_, 0);
    pipe_.data = this;
    uv_timer_init(&world->loop, &timer_);
    timer_.data = this;
  }

  void Connect() {
    connect_.data = this;
    uv_pipe_connect(&connect_, &pipe_, world_->socket_path.c_str(),
                    [](uv_connect_t* req, int status) {
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

  // Writes `bytes` and waits until the kernel has them.
  void Write(std::string bytes) {
    uv_write_t req;
    req.data = this;
    bool done = false;
    write_done_ = &done;
    uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    int rc = uv_write(&req, reinterpret_cast<uv_stream_t*>(&pipe_), &buf, 1,
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
    FUZZ_CHECK(write_status_ == 0, "writing to the proxy: %s", uv_strerror(write_status_));
  }

  // Runs the loop until `done`, or until nothing has moved for kSettleMs; false then.
  template <class Done>
  bool Settle(Done done) {
    uint64_t seen = Activity();
    bool quiet = false;
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<Client*>(t->data)->ticked_ = true; }, kSettleMs,
        kSettleMs);
    while (!done() && !quiet) {
      ticked_ = false;
      uv_run(&world_->loop, UV_RUN_ONCE);
      if (ticked_) {
        quiet = Activity() == seen;
        seen = Activity();
      }
    }
    uv_timer_stop(&timer_);
    return done();
  }

  // Runs the loop until `done`; reaching kDeadlineMs first is a hang.
  template <class Done>
  void RunUntil(Done done, const char* what) {
    timed_out_ = false;
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<Client*>(t->data)->timed_out_ = true; },
        kDeadlineMs, 0);
    while (!done() && !timed_out_) uv_run(&world_->loop, UV_RUN_ONCE);
    uv_timer_stop(&timer_);
    FUZZ_CHECK(!timed_out_, "no sign of %s within %llu ms: %zu replies, %zu bytes unparsed: %s",
               what, static_cast<unsigned long long>(kDeadlineMs), replies_.size(), in_.size(),
               Printable(in_).c_str());
  }

  void Close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_),
             [](uv_handle_t* h) { static_cast<Client*>(h->data)->closed_ = true; });
    while (!closed_) uv_run(&world_->loop, UV_RUN_ONCE);
  }

  const std::vector<std::string>& replies() const { return replies_; }
  bool eof() const { return eof_; }
  const std::string& unparsed() const { return in_; }

 private:
  uint64_t Activity() const {
    uint64_t activity = reads_;
    for (const auto& shard : world_->shards) activity += shard->activity();
    return activity;
  }

  void OnRead(ssize_t nread, const uv_buf_t* buf) {
    ++reads_;
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
                 "the proxy sent its client a malformed reply after %zu good ones: %s",
                 replies_.size(), Printable(in_).c_str());
      if (status == proxy::ReplyScanner::Status::kIncomplete) return;
      replies_.emplace_back(in_.data(), scanner.size());
      in_.erase(0, scanner.size());
    }
  }

  World* world_;
  uv_pipe_t pipe_{};
  uv_connect_t connect_{};
  uv_timer_t timer_{};
  bool* write_done_ = nullptr;
  int write_status_ = 0;
  std::string in_;
  std::vector<std::string> replies_;
  uint64_t reads_ = 0;
  bool connected_ = false;
  bool eof_ = false;
  bool ticked_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
};

std::string Get(std::string_view key) {
  return "*2\r\n$3\r\nGET\r\n$" + std::to_string(key.size()) + "\r\n" + std::string(key) + "\r\n";
}

// Where a request reached a shard: its connection's log, and its place there.
struct Arrival {
  const HostileShard::Log* log = nullptr;
  size_t position = 0;
};

// The replies in a connection's stream that the proxy must have framed: every whole, well-formed
// one up to the first it cannot frame or the end.
std::vector<std::string_view> FramedReplies(const std::string& stream) {
  std::vector<std::string_view> replies;
  proxy::ReplyScanner scanner;
  size_t offset = 0;
  while (offset < stream.size()) {
    if (scanner.Scan(stream.data() + offset, stream.size() - offset) !=
        proxy::ReplyScanner::Status::kComplete) {
      break;
    }
    replies.emplace_back(stream.data() + offset, scanner.size());
    offset += scanner.size();
  }
  return replies;
}

void CheckReplies(const World& world, const std::vector<std::string>& keys,
                  const std::vector<size_t>& shards, const std::vector<std::string>& replies) {
  // Each key is requested once per input: where each one arrived, if it did.
  std::map<std::string_view, Arrival> arrivals;
  std::map<const HostileShard::Log*, std::vector<std::string_view>> framed;
  // Per connection, the first framed reply that no request received there can claim.
  std::map<const HostileShard::Log*, size_t> unclaimed;
  for (const auto& shard : world.shards) {
    for (const auto& log : shard->logs()) {
      framed[log.get()] = FramedReplies(log->sent);
      unclaimed[log.get()] = log->requests.size();
      for (size_t k = 1; k < log->requests.size(); ++k) {  // after the SELECT
        const bool first = arrivals.emplace(log->requests[k], Arrival{log.get(), k}).second;
        FUZZ_CHECK(first, "the proxy sent 'GET %s' to the shards twice",
                   Printable(log->requests[k]).c_str());
      }
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& reply = replies[i];
    const auto arrival = arrivals.find(keys[i]);
    if (arrival == arrivals.end()) {
      if (reply[0] == '-') continue;
      // The proxy queues a request on a connection before it writes it, and takes the next
      // reply in the stream for it, even one the server sent before the request could reach it
      // (a reply to no request, when a request was queued behind the ones answered). Such a
      // reply is never another request's: it is a reply beyond those the connection's
      // requests received, in order.
      bool claimed = false;
      for (const auto& log : world.shards[shards[i]]->logs()) {
        size_t& next = unclaimed[log.get()];
        if (next < framed[log.get()].size() && framed[log.get()][next] == reply) {
          ++next;
          claimed = true;
          break;
        }
      }
      FUZZ_CHECK(claimed,
                 "reply %zu, to 'GET %s', which no shard received: %s, expected an error or a "
                 "reply its shard sent to no request",
                 i, keys[i].c_str(), Printable(reply).c_str());
      continue;
    }
    const auto& [log, position] = arrival->second;
    const std::vector<std::string_view>& stream_replies = framed[log];
    if (position < stream_replies.size()) {
      FUZZ_CHECK(reply == stream_replies[position],
                 "reply %zu, to 'GET %s' (request %zu of its server connection): %s, expected "
                 "the connection's reply %zu: %s",
                 i, keys[i].c_str(), position, Printable(reply).c_str(), position,
                 Printable(stream_replies[position]).c_str());
    } else {
      FUZZ_CHECK(reply.starts_with("-ERR "),
                 "reply %zu, to 'GET %s' (request %zu of a server connection that sent %zu "
                 "replies the proxy could frame): %s, expected an error",
                 i, keys[i].c_str(), position, stream_replies.size(), Printable(reply).c_str());
    }
  }
}

}  // namespace
}  // namespace ringproxy::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringproxy::fuzz;  // NOLINT(google-build-using-namespace)
  static World* world = SetUp();
  Scenario scenario = ParseInput(std::string_view(reinterpret_cast<const char*>(data), size));
  for (size_t s = 0; s < kShards; ++s) world->shards[s]->Begin(std::move(scenario.scripts[s]));
  Client client(world);
  client.Connect();
  std::vector<std::string> keys;
  std::vector<size_t> shards;
  std::string pipeline;
  auto all_replies = [&] { return client.replies().size() >= keys.size(); };
  for (const char step : scenario.plan) {
    if (step == '|') {
      if (!pipeline.empty()) client.Write(std::exchange(pipeline, std::string()));
      client.Settle(all_replies);
      continue;
    }
    const size_t shard = step == '1' ? 1 : 0;
    keys.push_back(world->keys[shard][keys.size()]);
    shards.push_back(shard);
    pipeline += Get(keys.back());
  }
  if (!pipeline.empty()) client.Write(std::move(pipeline));
  // Replies still owed wait for bytes the shards will not send: their FIN ends them. A request
  // the proxy had not sent yet may open a new connection, which the next round ends in turn.
  uint64_t rounds = 0;
  while (!client.Settle(all_replies)) {
    FUZZ_CHECK(++rounds < kDeadlineMs / kSettleMs,
               "the proxy keeps %zu of %zu replies owed after its servers' FIN (%zu bytes "
               "unparsed: %s)",
               keys.size() - client.replies().size(), keys.size(), client.unparsed().size(),
               Printable(client.unparsed()).c_str());
    FUZZ_CHECK(!client.eof(), "the proxy closed its client after %zu of %zu replies",
               client.replies().size(), keys.size());
    for (const auto& shard : world->shards) shard->Finish();
  }
  // Every request is answered, so nothing opens a connection any more: the shards' logs are
  // complete once the proxy has closed every one after their FIN.
  for (const auto& shard : world->shards) shard->Finish();
  client.RunUntil(
      [&] {
        return std::all_of(world->shards.begin(), world->shards.end(),
                           [](const auto& shard) { return shard->open_connections() == 0; });
      },
      "the proxy closing its server connections after their FIN");
  FUZZ_CHECK(client.replies().size() == keys.size() && client.unparsed().empty(),
             "%zu replies for %zu requests (then %zu bytes: %s)", client.replies().size(),
             keys.size(), client.unparsed().size(), Printable(client.unparsed()).c_str());
  CheckReplies(*world, keys, shards, client.replies());
  // Nothing more may come: the next reply is QUIT's, and then the end.
  client.Write(std::string(kQuit));
  client.RunUntil([&] { return client.eof(); }, "the reply to QUIT and the close");
  FUZZ_CHECK(client.replies().size() == keys.size() + 1 && client.replies().back() == "+OK\r\n" &&
                 client.unparsed().empty(),
             "after the last reply, QUIT got '%s' (%zu replies for %zu requests)",
             Printable(client.replies().back()).c_str(), client.replies().size(), keys.size() + 1);
  client.Close();
  return 0;
}
