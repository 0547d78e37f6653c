// Fuzz target: a whole client connection. Arbitrary client bytes go through a real, in-process
// ringproxy — Proxy::Start with one worker thread, exactly as the binary runs it — routing, split,
// fan-out, transactions and merges included, against fake shards (fake_shard.h) that check what
// reaches them.
//
//   fuzzer thread: one libuv loop running the fake shards (TCP, 127.0.0.1, ephemeral ports) and
//                  the client (a unix socket: one connection per input, and unix sockets leave
//                  no TIME_WAIT behind to run out of ports over millions of inputs)
//   worker thread: the proxy, two pools — "plain" over three shards, and "auth" over two, with a
//                  password (NOAUTH, and Redis's pre-AUTH request limits, until AUTH s3cret) and
//                  redis_db 1 (the SELECT handshake)
//
// Per input: the pool is chosen from a hash of the input; the input is written in input-chosen
// pieces; replies are read until every request the input holds has its reply (and, after a
// protocol error or QUIT, until the proxy closes), within a time bound. Checked:
// - every reply is well-formed RESP2 or RESP3 (ReplyScanner), never a push frame (the proxy drops
//   the shards' pushes), and there are never more replies than
//   requests: a QUIT sent after the input, when the input ends on a request boundary, must get
//   exactly "+OK" and then the connection's end;
// - the input is framed as the proxy must frame it: with the pre-AUTH limits until a successful
//   AUTH or HELLO ... AUTH on the password pool (Expect);
// - each reply belongs to its request (ReplyModel): forwarded commands come back as the shard's
//   echo of that request, MGET as "v:<key>" per key in key order, MSET as +OK, DEL and friends
//   as the key count, SCRIPT/FUNCTION subcommands as every shard's replies merged, INFO with the
//   shards' keyspaces summed — unless the reply is an error; commands the proxy answers itself
//   exactly as the product's AnswerLocalCommand answers them; refusals (unknown commands, wrong
//   arity, NOAUTH, EXEC or DISCARD without MULTI) as errors; and no error that says a server
//   failed or answered nonsense (ServerFailure), since the fake shards never do;
// - each reply is in the protocol its client speaks when it sends the request (HELLO 2/3,
//   followed through the product's AnswerLocalCommand): the shards answer RESP3 connections in
//   RESP3 forms of their own (fake_shard.h), so a request carried on the other protocol's server
//   connection, or overtaking a HELLO that switches, gets a reply the model does not expect;
// - transactions: MULTI +OK, a nested MULTI or a WATCH inside it refused without harm, each
//   command +QUEUED when the proxy can queue it (keys on the transaction's one server, and the
//   WATCHed server's) and an error otherwise, and then EXEC -EXECABORT; EXEC the array of the
//   queued commands' replies (nil when a WATCHed key was "modified", which the shards report only
//   on the connection that holds the WATCH), DISCARD +OK;
// - blocking commands: the shards' immediate replies (fake_shard.h), and the shards check that the
//   proxy carries them on a connection of the client's own;
// - pub/sub: (P|S)(UN)SUBSCRIBE confirmations exactly, one frame per name with the client's own
//   counts (push frames in RESP3); RESP2 subscribed mode's refusal text; PING's pair there;
//   RESET; PUBLISH and PUBSUB only as well-formed replies (see README.md);
// - the shards see only well-formed multibulk requests for commands the proxy may forward, each
//   key on the shard that owns it, transactions as one MULTI ... EXEC block (fake_shard.h);
// - the proxy closes the connection after a protocol error or QUIT, and not before;
// - no crash, no sanitizer report, no leak.
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/ascii.h"
#include "base/byte_buffer.h"
#include "base/logger.h"
#include "config/config_loader.h"
#include "dataplane/client_session.h"
#include "dataplane/command_table.h"
#include "dataplane/local_commands.h"
#include "dataplane/proxy.h"
#include "dataplane/reply_scanner.h"
#include "dataplane/request_parser.h"
#include "dataplane/router.h"
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

// One pool of the proxy under test, with its shards.
struct Pool {
  std::string socket_path;
  std::vector<std::unique_ptr<FakeShard>> shards;
  // In the topology the proxy runs (World::topology keeps it).
  const config::PoolConfig* config = nullptr;
  const hashing::Placement* placement = nullptr;
};

// Everything that lives across inputs. Created once and never destroyed: the worker thread is
// drained at exit (atexit), and the rest goes with the process.
struct World {
  uv_loop_t loop{};
  std::string directory;
  Pool plain;
  Pool auth;
  std::shared_ptr<const proxy::Topology> topology;
  proxy::Proxy* proxy = nullptr;
};

World* g_world = nullptr;

std::string PoolText(const std::string& name, const Pool& pool, const std::string& extra) {
  std::string text = name + ":\n  listen: " + pool.socket_path +
                     "\n  redis: true\n  distribution: ketama\n  hash_tag: \"{}\"\n" + extra +
                     "  servers:\n";
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

  // murmur spreads even one-letter keys over the shards, so that mutated inputs often cross
  // them; fnv1a_64, twemproxy's usual choice, places short keys in clusters.
  const std::string text =
      PoolText("plain", world->plain, "  hash: murmur\n") +
      PoolText("auth", world->auth, "  hash: fnv1a_64\n  redis_auth: s3cret\n  redis_db: 1\n");
  const config::LoadResult loaded = config::LoadConfigString(text, "connection_fuzzer.yml");
  FUZZ_CHECK(loaded.ok(), "%s", loaded.error.ToString().c_str());
  std::string error;
  std::shared_ptr<const proxy::Topology> topology = proxy::Topology::Build(*loaded.config, &error);
  FUZZ_CHECK(topology != nullptr, "%s", error.c_str());
  world->topology = topology;
  Pool* pools[] = {&world->plain, &world->auth};
  for (size_t p = 0; p < 2; ++p) {
    pools[p]->config = &topology->pools[p].config;
    pools[p]->placement = &topology->pools[p].placement;
    for (const auto& shard : pools[p]->shards) shard->set_placement(pools[p]->placement);
  }
  world->proxy = new proxy::Proxy;
  proxy::ProxySettings settings;
  settings.workers = 1;
  FUZZ_CHECK(world->proxy->Start(topology, settings, &error), "%s", error.c_str());
  g_world = world;
  std::atexit(StopProxyAtExit);
  return world;
}

// One request of the input, as the model of the proxy sees it when it is sent.
struct ModelRequest {
  std::vector<std::string> args;
  const CommandSpec* spec = nullptr;
  bool in_multi = false;   // sent between a MULTI and its EXEC or DISCARD
  bool must_fail = false;  // refused whatever the servers say (unknown, wrong arity, NOAUTH)
  bool local = false;      // answered by the proxy itself: `local_reply` is the answer
  std::string local_reply;
  // The client's protocol when the request is sent (HELLO changes it for the requests after
  // it): the reply must be in it, so a request carried on the other protocol's server
  // connection gets a reply the model does not expect.
  proxy::Protocol protocol = proxy::Protocol::kResp2;
  // Pub/sub: the frames the reply is made of ((P|S)(UN)SUBSCRIBE confirm each name in a frame of
  // its own, a push frame in RESP3); `any_order` when they may come in any order (an
  // UNSUBSCRIBE of every name); `exact_error`, when not empty, the refusal it must be.
  size_t frames = 1;
  bool any_order = false;
  std::string exact_error;

  std::vector<std::string_view> views() const {
    return std::vector<std::string_view>(args.begin(), args.end());
  }
};

// The client's subscriptions as the model follows them: names per kind (channels, patterns,
// shard channels), as the proxy's PubSubHub keeps them.
struct Subscriptions {
  std::array<std::set<std::string>, 3> names;

  uint32_t total() const {
    return static_cast<uint32_t>(names[0].size() + names[1].size() + names[2].size());
  }
  // The count a confirmation of `kind` carries: channels and patterns together, shard channels
  // apart (as Redis).
  size_t count(size_t kind) const {
    return kind == 2 ? names[2].size() : names[0].size() + names[1].size();
  }
};

std::string BulkOf(std::string_view value) {
  return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n";
}

// One confirmation frame: "<type> <name> :<count>", a push in RESP3; a null name when `name` is
// null.
std::string Confirmation(proxy::Protocol protocol, std::string_view type, const std::string* name,
                         size_t count) {
  const bool resp3 = protocol == proxy::Protocol::kResp3;
  return std::string(resp3 ? ">3\r\n" : "*3\r\n") + BulkOf(type) +
         (name != nullptr ? BulkOf(*name) : std::string(resp3 ? "_\r\n" : "$-1\r\n")) + ":" +
         std::to_string(count) + "\r\n";
}

// The confirmations the proxy owes a (P|S)(UN)SUBSCRIBE, as Redis gives them, and the
// subscriptions after it.
void ExpectSubscription(ModelRequest* request, Subscriptions* subscriptions) {
  static constexpr std::string_view kTypes[2][3] = {
      {"subscribe", "psubscribe", "ssubscribe"}, {"unsubscribe", "punsubscribe", "sunsubscribe"}};
  size_t kind = 0;
  bool subscribe = true;
  switch (request->spec->local) {
    case LocalCommand::kSubscribe:
      break;
    case LocalCommand::kPsubscribe:
      kind = 1;
      break;
    case LocalCommand::kSsubscribe:
      kind = 2;
      break;
    case LocalCommand::kUnsubscribe:
      subscribe = false;
      break;
    case LocalCommand::kPunsubscribe:
      kind = 1;
      subscribe = false;
      break;
    default:
      kind = 2;
      subscribe = false;
      break;
  }
  const std::string_view type = kTypes[subscribe ? 0 : 1][kind];
  std::vector<std::string> names(request->args.begin() + 1, request->args.end());
  if (!subscribe && names.empty()) {
    names.assign(subscriptions->names[kind].begin(), subscriptions->names[kind].end());
    request->any_order = true;
    if (names.empty()) {
      request->local_reply =
          Confirmation(request->protocol, type, nullptr, subscriptions->count(kind));
    }
  }
  for (const std::string& name : names) {
    if (subscribe) {
      subscriptions->names[kind].insert(name);
    } else {
      subscriptions->names[kind].erase(name);
    }
    request->local_reply +=
        Confirmation(request->protocol, type, &name, subscriptions->count(kind));
  }
  request->frames = std::max<size_t>(names.size(), 1);
  request->local = true;
}

// What the proxy owes the client for one input.
struct Expected {
  std::vector<ModelRequest> requests;  // complete requests, each owed one reply, in order
  bool protocol_error = false;         // then one more reply (the error), and the proxy closes
  bool quit = false;      // the last request ends the connection (QUIT): the proxy closes after it
  bool leftover = false;  // the input ends inside a request

  size_t replies() const { return requests.size() + (protocol_error ? 1 : 0); }
  bool closes() const { return protocol_error || quit; }
};

// Frames the input as the proxy does and notes, for each request, what the proxy decides without
// asking a server. Framing depends on the session: a pool with a password frames with Redis's
// pre-AUTH limits until AUTH (or HELLO ... AUTH) succeeds, so the commands the proxy answers
// itself are run here in order on a session of the model's own, through the product's
// AnswerLocalCommand: the model then knows when authentication succeeded, and what each local
// reply is, exactly as the connection's own session would; and which protocol each request is
// sent in, as a successful HELLO 2 or 3 switches it (a refused one, or one inside MULTI, does
// not).
Expected Expect(std::string_view input, const Pool& pool) {
  Expected expected;
  const bool password = !pool.config->redis_auth.empty();
  RequestParser parser(password ? proxy::RequestLimits::Unauthenticated() : proxy::RequestLimits());
  proxy::ClientSession session;
  proxy::LocalContext context{};
  context.pool = pool.config;
  context.worker_id = 0;
  context.workers = 1;
  bool in_multi = false;
  Subscriptions subscriptions;
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
    offset += parser.consumed();
    if (status != RequestParser::Status::kComplete) continue;
    ModelRequest request;
    for (size_t i = 0; i < parser.argc(); ++i) request.args.emplace_back(parser.arg(data, i));
    request.spec = proxy::LookupCommand(request.args[0]);
    request.in_multi = in_multi;
    request.protocol = session.protocol;
    const CommandSpec* spec = request.spec;
    const bool known = spec != nullptr && proxy::ArityOk(*spec, request.args.size());
    const LocalCommand local = known ? spec->local : LocalCommand::kNone;
    bool run_locally = false;
    if (!known) {
      request.must_fail = true;
      // As Redis: EXEC refused inside MULTI ends the transaction with EXECABORT.
      if (in_multi && spec != nullptr && spec->local == LocalCommand::kExec) in_multi = false;
    } else if ((password && !session.authenticated && local != LocalCommand::kAuth &&
                local != LocalCommand::kHello && local != LocalCommand::kQuit) ||
               (in_multi && spec->kind == CommandKind::kPubSub && local != LocalCommand::kPublish &&
                local != LocalCommand::kSpublish && local != LocalCommand::kReset)) {
      // NOAUTH; or a pub/sub command other than PUBLISH inside MULTI, which dooms it.
      request.must_fail = true;
    } else if (session.subscriptions > 0 && session.protocol == proxy::Protocol::kResp2 &&
               !proxy::AllowedInSubscribedMode(*spec)) {
      // RESP2 subscribed mode: Redis's refusal, word for word.
      request.must_fail = true;
      // Redis turns line breaks in an error's text into spaces (a command name may hold them).
      std::string text = proxy::SubscribedModeError(*spec, request.views());
      std::replace_if(
          text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      request.exact_error = "-" + text + "\r\n";
    } else if (local == LocalCommand::kReset) {
      // As Redis 7: out of MULTI, WATCH and subscribed mode, RESP2, no name, and not
      // authenticated where the pool has a password.
      request.local = true;
      request.local_reply = "+RESET\r\n";
      in_multi = false;
      subscriptions = Subscriptions();
      session.subscriptions = 0;
      session.name.clear();
      session.protocol = proxy::Protocol::kResp2;
      if (password && session.authenticated) {
        session.authenticated = false;
        parser.set_limits(proxy::RequestLimits::Unauthenticated());
      }
    } else if (spec->kind == CommandKind::kPubSub && !in_multi && local != LocalCommand::kPublish &&
               local != LocalCommand::kSpublish && local != LocalCommand::kPubsub) {
      ExpectSubscription(&request, &subscriptions);
      session.subscriptions = subscriptions.total();
    } else if (in_multi) {
      // Inside MULTI only QUIT runs at once; EXEC and DISCARD end the transaction.
      run_locally = local == LocalCommand::kQuit;
      if (local == LocalCommand::kExec || local == LocalCommand::kDiscard) in_multi = false;
    } else if (local == LocalCommand::kMulti) {
      in_multi = true;
    } else {
      run_locally = spec->kind == CommandKind::kLocal && local != LocalCommand::kInfo;
    }
    if (run_locally) {
      const bool was_authenticated = session.authenticated;
      proxy::ByteBuffer reply;
      proxy::AnswerLocalCommand(*spec, request.views(), context, &session, &reply);
      request.local = true;
      request.local_reply = std::string(reply.view());
      if (password && session.authenticated != was_authenticated) {
        parser.set_limits(session.authenticated ? proxy::RequestLimits()
                                                : proxy::RequestLimits::Unauthenticated());
      }
    }
    expected.requests.push_back(std::move(request));
    // QUIT, or whatever else the product's local answer decides ends the connection: the model
    // follows the session, not a list of commands.
    if (session.close_after_reply) {
      expected.quit = true;
      break;
    }
  }
  return expected;
}

// The keyspace the proxy must answer INFO with: every shard's (FakeShard::KeyspaceReply)
// summed per database, avg_ttl weighted by keys.
std::string ExpectedKeyspace(size_t shards) {
  uint64_t keys = 0;
  uint64_t expires = 0;
  uint64_t ttl_keys = 0;
  for (uint64_t i = 0; i < shards; ++i) {
    keys += i + 1;
    expires += i;
    ttl_keys += 1000 * (i + 1) * (i + 1);
  }
  std::string out = "# Keyspace\r\ndb0:keys=" + std::to_string(keys) +
                    ",expires=" + std::to_string(expires) +
                    ",avg_ttl=" + std::to_string(keys == 0 ? 0 : ttl_keys / keys) + "\r\n";
  for (size_t i = 0; i < shards; ++i) {
    out += "db" + std::to_string(i + 2) + ":keys=1,expires=1,avg_ttl=5\r\n";
  }
  return out;
}

// Whether INFO's arguments ask for the keyspace (Redis: no argument, or "all", "everything",
// "default" or "keyspace" among them, in any case).
bool InfoAsksKeyspace(const std::vector<std::string>& args) {
  if (args.size() == 1) return true;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string name = ascii::Upper(args[i]);
    if (name == "ALL" || name == "EVERYTHING" || name == "DEFAULT" || name == "KEYSPACE") {
      return true;
    }
  }
  return false;
}

// The reply of each shard split into its elements: the lines after an array header.
std::vector<std::string> ArrayLines(const std::string& reply) {
  std::vector<std::string> lines;
  size_t pos = reply.find("\r\n") + 2;
  while (pos < reply.size()) {
    const size_t end = reply.find("\r\n", pos);
    lines.push_back(reply.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// What the pool's merged reply to a fan-out subcommand is, from every shard's reply; empty when
// it must be an error.
std::string ExpectedFanOut(const proxy::FanOutSpec& sub, const std::vector<std::string_view>& args,
                           size_t shards, proxy::Protocol protocol) {
  std::vector<std::string> replies;
  for (size_t i = 0; i < shards; ++i) {
    replies.push_back(FakeShard::FanOutReply(sub, args, static_cast<uint32_t>(i), protocol));
  }
  switch (sub.merge) {
    case proxy::MergeKind::kAndArray: {
      // A script exists in the pool only where every shard has it.
      std::vector<std::string> all = ArrayLines(replies[0]);
      for (size_t i = 1; i < shards; ++i) {
        const std::vector<std::string> lines = ArrayLines(replies[i]);
        for (size_t j = 0; j < all.size(); ++j) {
          if (lines[j] == ":0") all[j] = ":0";
        }
      }
      std::string out = "*" + std::to_string(all.size()) + "\r\n";
      for (const std::string& line : all) out += line + "\r\n";
      return out;
    }
    case proxy::MergeKind::kAnyOk:
      for (const std::string& reply : replies) {
        if (reply == "+OK\r\n") return reply;
      }
      return std::string();
    default:
      // Every shard must have answered the same; all-+OK merges to +OK.
      for (const std::string& reply : replies) {
        FUZZ_CHECK(reply == replies[0], "the fake shards disagree on '%s'",
                   Printable(args[0]).c_str());
      }
      return replies[0];
  }
}

// "*14 ... id :<n> ..." with the client id taken out: the model's session does not know it.
std::string WithoutClientId(std::string_view hello) {
  constexpr std::string_view kId = "$2\r\nid\r\n:";
  std::string out(hello);
  const size_t at = out.find(kId);
  if (at == std::string::npos) return out;
  const size_t start = at + kId.size();
  const size_t end = out.find("\r\n", start);
  if (end != std::string::npos) out.erase(start, end - start);
  return out;
}

// An error the proxy gives only when a server connection failed or a server's reply made no
// sense to it: the fake shards never fail and always make sense, so such an error means the
// proxy lost track of a stream (a push frame taken for a reply, an attribute misframed) or
// mangled a reply it merges. The texts are the proxy's (ServerConnection::Close writes the
// errno's text, Request's merges their complaints).
bool ServerFailure(std::string_view reply) {
  static const std::vector<std::string>* const kFailures = [] {
    auto* failures = new std::vector<std::string>{"-ERR Host is down\r\n"};
    for (int e = 1; e < 134; ++e) failures->push_back("-ERR " + std::string(strerror(e)) + "\r\n");
    return failures;
  }();
  for (const std::string& failure : *kFailures) {
    if (reply == failure) return true;
  }
  return reply.starts_with("-ERR unexpected") ||
         reply.starts_with("-ERR server returned fewer values") ||
         reply.starts_with("-ERR the servers of the pool answered differently");
}

// Checks each reply against its request, in order. Replies arrive in request order, so the
// transaction state a reply depends on (which queued commands were accepted, which WATCH took)
// is tracked from the replies already checked.
class ReplyModel {
 public:
  explicit ReplyModel(const Pool* pool) : pool_(pool) {}

  // `error`: the reply is an error, RESP2's '-' or RESP3's '!', maybe behind an attribute.
  void Check(const ModelRequest& request, std::string_view reply, bool error, size_t index) {
    index_ = index;
    request_ = &request;
    reply_ = reply;
    if (request.must_fail) {
      Require(error, "an error");
      if (!request.exact_error.empty()) Require(reply == request.exact_error, request.exact_error);
      if (request.in_multi) {
        if (request.spec != nullptr && request.spec->local == LocalCommand::kExec) {
          Require(reply.starts_with("-EXECABORT"), "-EXECABORT");
          EndTransaction();
        } else {
          doomed_ = true;
        }
      }
      return;
    }
    if (request.local) {
      // RESET ends the transaction and the WATCH, as EXEC would.
      if (request.spec->local == LocalCommand::kReset) EndTransaction();
      CheckLocal();
      return;
    }
    // A server's blob error for a "berr" key does not fit a merge, which says so.
    Require(
        !ServerFailure(reply) || (request.protocol == proxy::Protocol::kResp3 && HasKey("berr")),
        "a reply from the shards (this error says a server failed or answered nonsense)");
    if (request.in_multi) {
      CheckInMulti(error);
    } else {
      CheckOutsideMulti(error);
    }
  }

 private:
  void Require(bool condition, const std::string& what) const {
    FUZZ_CHECK(condition, "reply %zu to '%s'%s: %s, expected %s", index_,
               Printable(request_->args[0]).c_str(), request_->in_multi ? " inside MULTI" : "",
               Printable(reply_).c_str(), Printable(what).c_str());
  }

  void CheckLocal() {
    const std::string& expected = request_->local_reply;
    if (request_->spec->local == LocalCommand::kHello && !expected.starts_with("-")) {
      Require(WithoutClientId(reply_) == WithoutClientId(expected), expected);
    } else if (request_->spec->local == LocalCommand::kClient && request_->args.size() == 2 &&
               ascii::Upper(request_->args[1]) == "ID") {
      Require(reply_[0] == ':', "the client id");
    } else if (request_->any_order) {
      Require(Unordered(reply_) == Unordered(expected), expected);
    } else {
      Require(reply_ == expected, expected);
    }
  }

  // Confirmation frames, each without its count, sorted; and the counts in order (they fall by
  // one per frame whatever order the names come in).
  static std::pair<std::vector<std::string>, std::vector<std::string>> Unordered(
      std::string_view frames) {
    std::vector<std::string> names;
    std::vector<std::string> counts;
    while (!frames.empty()) {
      proxy::ReplyScanner scanner;
      if (scanner.Scan(frames.data(), frames.size()) != proxy::ReplyScanner::Status::kComplete) {
        names.emplace_back(frames);
        break;
      }
      const std::string_view frame = frames.substr(0, scanner.size());
      const size_t colon = frame.rfind(':');
      names.emplace_back(frame.substr(0, colon));
      counts.emplace_back(frame.substr(colon));
      frames.remove_prefix(scanner.size());
    }
    std::sort(names.begin(), names.end());
    return {names, counts};
  }

  void CheckOutsideMulti(bool error) {
    const CommandSpec& spec = *request_->spec;
    const std::vector<std::string_view> args = request_->views();
    switch (spec.kind) {
      case CommandKind::kTransaction:
        switch (spec.local) {
          case LocalCommand::kMulti:
            Require(reply_ == "+OK\r\n", "+OK");
            doomed_ = false;
            queued_.clear();
            transaction_server_ = kNone;
            return;
          case LocalCommand::kWatch:
            CheckWatch(error);
            return;
          case LocalCommand::kUnwatch:
            Require(error || reply_ == "+OK\r\n", "+OK");
            watch_server_ = kNone;
            watch_dirty_ = false;
            return;
          default:
            Require(error, "an error (EXEC and DISCARD without MULTI)");
            return;
        }
      case CommandKind::kLocal:
        CheckInfo(error);
        return;
      case CommandKind::kFanOut: {
        const proxy::FanOutSpec* sub = proxy::FindFanOut(spec, args[1]);
        if (sub == nullptr || !proxy::ArityOk(sub->arity, args.size())) {
          Require(error, "an error (a subcommand the proxy does not send to every server)");
          return;
        }
        const std::string expected =
            ExpectedFanOut(*sub, args, pool_->shards.size(), request_->protocol);
        Require(error || (!expected.empty() && reply_ == expected),
                expected.empty() ? "an error" : expected);
        return;
      }
      case CommandKind::kPool:
        // Every fake shard is empty: the pool's answers are those of one empty Redis (SCAN's
        // cursor walks the shards, ending at 0 after the last).
        if (error) return;
        if (spec.pool == proxy::PoolCommand::kScan) {
          Require(reply_.starts_with("*2\r\n$") && reply_.ends_with("\r\n*0\r\n"),
                  "an empty SCAN page");
        } else {
          Require(reply_ == FakeShard::PoolReply(spec), FakeShard::PoolReply(spec));
        }
        return;
      case CommandKind::kPubSub:
        // PUBLISH's count is the proxy's subscribers of the channel over every worker, PUBSUB's
        // answers its registry's: checked as well-formed only.
        if (spec.local == LocalCommand::kPublish || spec.local == LocalCommand::kSpublish) {
          Require(error || reply_[0] == ':', "an integer");
        }
        return;
      case CommandKind::kUnsupported:
        Require(error, "an error (a command no server runs)");
        return;
      default: {
        if (error) return;
        const std::string expected = FakeShard::ReplyTo(args, request_->protocol);
        Require(reply_ == expected, expected);
        return;
      }
    }
  }

  void CheckWatch(bool error) {
    uint32_t server = kNone;
    const bool one_server = ServerOfKeys(&server);
    if (!one_server || (watch_server_ != kNone && watch_server_ != server)) {
      Require(error, "an error (WATCH of keys on another server)");
      return;
    }
    // A pinned connection may be refused (max_pinned_connections): an error is possible.
    if (error) return;
    Require(reply_ == "+OK\r\n", "+OK");
    watch_server_ = server;
    std::vector<std::string_view> keys;
    FakeShard::KeysOf(*request_->spec, request_->views(), &keys);
    for (const std::string_view key : keys) watch_dirty_ |= key.starts_with("dirty");
  }

  void CheckInfo(bool error) {
    FUZZ_CHECK(request_->spec->local == LocalCommand::kInfo, "no local prediction for '%s'",
               Printable(request_->args[0]).c_str());
    if (error) return;
    // RESP3 has INFO as a verbatim string of format "txt".
    const bool resp3 = request_->protocol == proxy::Protocol::kResp3;
    Require(reply_[0] == (resp3 ? '=' : '$'), resp3 ? "a verbatim string" : "a bulk string");
    const size_t header = reply_.find("\r\n") + 2 + (resp3 ? 4 : 0);
    Require(!resp3 || reply_.substr(header - 4, 4) == "txt:", "a verbatim string of format txt");
    const std::string_view body = reply_.substr(header, reply_.size() - header - 2);
    if (!InfoAsksKeyspace(request_->args)) {
      Require(body.find("# Keyspace") == std::string_view::npos, "no keyspace");
      return;
    }
    const std::string keyspace = ExpectedKeyspace(pool_->shards.size());
    Require(body == keyspace || body.ends_with("\r\n" + keyspace), "... " + keyspace);
  }

  void CheckInMulti(bool error) {
    switch (request_->spec->local) {
      case LocalCommand::kMulti:
      case LocalCommand::kWatch:
        // As Redis: refused, and the transaction stays good.
        Require(error, "an error");
        return;
      case LocalCommand::kExec: {
        if (doomed_) {
          Require(reply_.starts_with("-EXECABORT"), "-EXECABORT");
        } else if (!error) {
          std::string expected(FakeShard::NullArray(request_->protocol));
          if (!watch_dirty_) {
            expected = "*" + std::to_string(queued_.size()) + "\r\n";
            for (const std::string& reply : queued_) expected += reply;
          }
          Require(reply_ == expected, expected);
        }
        EndTransaction();
        return;
      }
      case LocalCommand::kDiscard:
        Require(reply_ == "+OK\r\n", "+OK");
        EndTransaction();
        return;
      default:
        break;
    }
    if (!Queueable()) {
      Require(error, "an error (a command the proxy cannot queue)");
      doomed_ = true;
      return;
    }
    Require(reply_ == "+QUEUED\r\n", "+QUEUED");
    queued_.push_back(FakeShard::ReplyTo(request_->views(), request_->protocol));
  }

  // Whether the proxy queues the request (else it refuses it, and the transaction is doomed);
  // a keyed command fixes the transaction's server.
  bool Queueable() {
    const CommandSpec& spec = *request_->spec;
    switch (spec.kind) {
      case CommandKind::kLocal:
        return spec.local == LocalCommand::kPing || spec.local == LocalCommand::kEcho;
      case CommandKind::kTransaction:
        return spec.local == LocalCommand::kUnwatch;
      case CommandKind::kFanOut:
      case CommandKind::kPool:
      case CommandKind::kUnsupported:
        return false;
      case CommandKind::kPubSub: {
        // PUBLISH goes with the transaction, to its channel's server.
        if (spec.local != LocalCommand::kPublish && spec.local != LocalCommand::kSpublish) {
          return false;
        }
        const uint32_t server = pool_->placement->ServerFor(request_->args[1]);
        if (transaction_server_ != kNone && transaction_server_ != server) return false;
        if (watch_server_ != kNone && watch_server_ != server) return false;
        transaction_server_ = server;
        return true;
      }
      default:
        break;
    }
    const std::vector<std::string_view> args = request_->views();
    std::vector<uint32_t> indices;
    if (spec.kind == CommandKind::kMultiKey &&
        proxy::CollectKeys(spec, args, &indices) == proxy::KeyScan::kNoKeys) {
      return true;  // keyless: it goes wherever the transaction goes
    }
    // Arguments Redis refuses by themselves: queued wherever the transaction goes, the error
    // in EXEC's reply, as from Redis.
    if (FakeShard::RefusesArguments(spec, args)) return true;
    if (spec.kind == CommandKind::kSplitSet && (args.size() - 1) % 2 != 0) return false;
    uint32_t server = kNone;
    if (!ServerOfKeys(&server)) return false;
    if (transaction_server_ != kNone && transaction_server_ != server) return false;
    if (watch_server_ != kNone && watch_server_ != server) return false;
    transaction_server_ = server;
    return true;
  }

  // Whether a key of the request starts with `prefix`.
  bool HasKey(std::string_view prefix) const {
    std::vector<std::string_view> keys;
    if (request_->spec == nullptr) return false;
    FakeShard::KeysOf(*request_->spec, request_->views(), &keys);
    for (const std::string_view key : keys) {
      if (key.starts_with(prefix)) return true;
    }
    return false;
  }

  // The one server that owns every key of the request; false when there is none.
  bool ServerOfKeys(uint32_t* server) const {
    std::vector<std::string_view> keys;
    if (!FakeShard::KeysOf(*request_->spec, request_->views(), &keys)) return false;
    *server = pool_->placement->ServerFor(keys[0]);
    for (const std::string_view key : keys) {
      if (pool_->placement->ServerFor(key) != *server) return false;
    }
    return true;
  }

  // EXEC (whatever it answered) and DISCARD end the transaction and every WATCH.
  void EndTransaction() {
    doomed_ = false;
    queued_.clear();
    transaction_server_ = kNone;
    watch_server_ = kNone;
    watch_dirty_ = false;
  }

  static constexpr uint32_t kNone = UINT32_MAX;
  const Pool* pool_;
  // The reply being checked.
  const ModelRequest* request_ = nullptr;
  std::string_view reply_;
  size_t index_ = 0;
  // The transaction: refused commands doom it; the replies of the queued ones, in order.
  bool doomed_ = false;
  std::vector<std::string> queued_;
  uint32_t transaction_server_ = kNone;
  // WATCH: the server of the watched keys, and whether one of them counts as modified.
  uint32_t watch_server_ = kNone;
  bool watch_dirty_ = false;
};

// The client side of one input, on the fuzzer's loop.
class Client {
 public:
  Client(uv_loop_t* loop, const Expected* expected, const Pool* pool)
      : loop_(loop), expected_(expected), model_(pool) {
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
               "%zu bytes unparsed: %s (frames of a reply so far: %s)",
               what, static_cast<unsigned long long>(kDeadlineMs), replies_, expected_->replies(),
               in_.size(), Printable(in_).c_str(), Printable(frames_).c_str());
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
      const std::string_view frame(in_.data(), scanner.size());
      const ModelRequest* request =
          replies_ < expected_->requests.size() ? &expected_->requests[replies_] : nullptr;
      // A RESP3 client gets pub/sub confirmations as push frames, and nothing else.
      FUZZ_CHECK(
          scanner.type() != '>' || (request != nullptr && request->local && request->frames > 0 &&
                                    request->local_reply.starts_with(">")),
          "a push frame reached the client after %zu replies: %s", replies_,
          Printable(frame).c_str());
      // A reply of several frames (confirmations) is checked whole; an error is one frame.
      frames_.append(frame);
      ++frame_count_;
      if (request != nullptr && !(quitting_ && quit_reply_.empty()) && !scanner.is_error() &&
          frame_count_ < request->frames) {
        in_.erase(0, scanner.size());
        continue;
      }
      const std::string_view reply(frames_);
      const bool first_is_error = frame_count_ == 1 && scanner.is_error();
      if (quitting_ && quit_reply_.empty()) {
        quit_reply_ = std::string(reply);
      } else {
        FUZZ_CHECK(replies_ < expected_->replies(), "reply %zu for %zu requests: %s", replies_ + 1,
                   expected_->replies(), Printable(reply).c_str());
        if (replies_ < expected_->requests.size()) {
          model_.Check(expected_->requests[replies_], reply, first_is_error, replies_);
        } else {
          FUZZ_CHECK(reply.starts_with("-ERR Protocol error"), "the reply to a protocol error: %s",
                     Printable(reply).c_str());
        }
        ++replies_;
      }
      frames_.clear();
      frame_count_ = 0;
      in_.erase(0, scanner.size());
    }
  }

  uv_loop_t* loop_;
  const Expected* expected_;
  ReplyModel model_;
  uv_pipe_t pipe_{};
  uv_connect_t connect_{};
  uv_timer_t deadline_{};
  bool* write_done_ = nullptr;
  int write_status_ = 0;
  std::string in_;
  std::string frames_;  // the frames of the reply being read
  size_t frame_count_ = 0;
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
  std::vector<size_t> cuts = SplitPoints(data, size, kMaxPieces - 1);
  // The hash that placed the cuts also picks the pool: one input in four meets the password.
  const bool auth_pool = size > 0 && (cuts.size() + data[size - 1]) % 4 == 0;
  const Pool& pool = auth_pool ? world->auth : world->plain;
  const Expected expected = Expect(input, pool);
  Client client(&world->loop, &expected, &pool);
  client.Connect(pool.socket_path);
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
