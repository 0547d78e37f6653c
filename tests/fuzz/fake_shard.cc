#include "tests/fuzz/fake_shard.h"

#include <netinet/in.h>

#include <cctype>
#include <memory>
#include <set>

#include "base/ascii.h"
#include "dataplane/request_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace ringproxy::fuzz {
namespace {

using proxy::CommandKind;
using proxy::CommandSpec;
using proxy::LocalCommand;
using proxy::Protocol;

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
  FakeShard* shard = nullptr;
  uv_tcp_t handle{};
  std::string in;
  proxy::RequestParser parser;
  size_t requests = 0;  // requests answered on this connection
  bool past_handshake = false;
  bool said_hello = false;  // HELLO 3 ended the handshake: no AUTH or SELECT may follow
  Protocol protocol = Protocol::kResp2;
  // A WATCH since the last EXEC or UNWATCH: the proxy has pinned this connection to one client,
  // and it follows that client's HELLO.
  bool watching = false;
  // Between MULTI and EXEC: the replies EXEC will give, in order.
  bool in_multi = false;
  std::vector<std::string> queued;
  bool watch_dirty = false;  // a WATCHed key counts as modified: EXEC answers nil
  // CLIENT ID arrived: the proxy took this connection for one client's blocking commands (it
  // asks once per connection, right before the first one).
  bool dedicated = false;
  bool after_client_id = false;  // the previous request was CLIENT ID
  // (P|S)SUBSCRIBE made this the proxy's subscriber connection: channels, patterns, shard
  // channels it carries.
  bool subscriber = false;
  std::set<std::string> subscriptions[3];
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
  auto* connection = new Connection;  // freed on close
  connection->shard = this;
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
    Answer(connection, args, &out);
    ++connection->requests;
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

namespace {

proxy::KeyScan ScanKeys(const CommandSpec& spec, const std::vector<std::string_view>& args,
                        std::vector<std::string_view>* keys) {
  keys->clear();
  switch (spec.kind) {
    case CommandKind::kSingleKey:
      keys->push_back(args[static_cast<size_t>(spec.first_key)]);
      return proxy::KeyScan::kOk;
    case CommandKind::kMultiKey:
    case CommandKind::kBlocking:
    case CommandKind::kTransaction: {
      std::vector<uint32_t> indices;
      const proxy::KeyScan scan = proxy::CollectKeys(spec, args, &indices);
      for (const uint32_t i : indices) keys->push_back(args[i]);
      return scan;
    }
    case CommandKind::kSplitGet:
    case CommandKind::kSplitCount:
      keys->assign(args.begin() + 1, args.end());
      return proxy::KeyScan::kOk;
    case CommandKind::kSplitSet:
      if ((args.size() - 1) % 2 != 0) return proxy::KeyScan::kWrongArity;
      for (size_t i = 1; i < args.size(); i += 2) keys->push_back(args[i]);
      return proxy::KeyScan::kOk;
    case CommandKind::kLocal:
    case CommandKind::kFanOut:
    case CommandKind::kPool:
    case CommandKind::kUnsupported:
    case CommandKind::kPubSub:  // not modelled yet: see tests/integration/test_pubsub.py
      return proxy::KeyScan::kNoKeys;
  }
  return proxy::KeyScan::kNoKeys;
}

// "echo:" and every argument, space-separated; "echo3:" in RESP3, so that a reply tells which
// protocol's connection carried its request.
std::string EchoText(const std::vector<std::string_view>& args, Protocol protocol) {
  std::string echo = protocol == Protocol::kResp3 ? "echo3:" : "echo:";
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) echo += ' ';
    echo.append(args[i]);
  }
  return echo;
}

std::string Echo(const std::vector<std::string_view>& args, Protocol protocol) {
  return Bulk(EchoText(args, protocol));
}

// An attribute as Redis would attach one (e.g. a key's popularity), naming `key`.
std::string Attribute(std::string_view key) { return "|1\r\n+key\r\n" + Bulk(key); }

// The RESP3 reply to a keyed command whose echo is `echo`, by the prefix of its first key
// (fake_shard.h): every RESP3 type the proxy must frame and pass through verbatim.
std::string Resp3Form(std::string_view key, const std::string& echo) {
  if (key.starts_with("attr")) return Attribute(key) + Resp3Form(key.substr(4), echo);
  if (key.starts_with("push")) return Resp3Form(key.substr(4), echo);  // PushBefore's part
  const std::string size = std::to_string(echo.size());
  if (key.starts_with("berr")) {
    const std::string text = "ERR fake " + echo;
    return "!" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
  }
  if (key.starts_with("nil")) return "_\r\n";
  if (key.starts_with("map")) return "%2\r\n+echo\r\n" + Bulk(echo) + "+keys\r\n~1\r\n" + Bulk(key);
  if (key.starts_with("set")) return "~2\r\n" + Bulk(echo) + "#t\r\n";
  if (key.starts_with("dbl")) return "," + size + ".5\r\n";
  if (key.starts_with("bool")) return echo.size() % 2 == 0 ? "#t\r\n" : "#f\r\n";
  if (key.starts_with("big")) return "(123456789012345678901234567890" + size + "\r\n";
  if (key.starts_with("verb")) {
    return "=" + std::to_string(4 + echo.size()) + "\r\ntxt:" + echo + "\r\n";
  }
  return Bulk(echo);
}

// An MGET value: RESP2's "v:<k>" or nil, RESP3's "v3:<k>" or "_", behind an attribute for a key
// starting with "attr".
std::string MgetValue(std::string_view key, Protocol protocol) {
  if (protocol == Protocol::kResp2) {
    return key.starts_with("nil") ? std::string("$-1\r\n") : Bulk("v:" + std::string(key));
  }
  const std::string attribute = key.starts_with("attr") ? Attribute(key) : std::string();
  const std::string_view rest = key.starts_with("attr") ? key.substr(4) : key;
  return attribute +
         (rest.starts_with("nil") ? std::string("_\r\n") : Bulk("v3:" + std::string(key)));
}

// What a Redis 7 answers HELLO with, in `protocol`.
std::string HelloReply(Protocol protocol, size_t id) {
  const bool resp3 = protocol == Protocol::kResp3;
  return std::string(resp3 ? "%7\r\n" : "*14\r\n") + Bulk("server") + Bulk("redis") +
         Bulk("version") + Bulk("7.2.4") + Bulk("proto") + (resp3 ? ":3\r\n" : ":2\r\n") +
         Bulk("id") + ":" + std::to_string(id) + "\r\n" + Bulk("mode") + Bulk("standalone") +
         Bulk("role") + Bulk("master") + Bulk("modules") + "*0\r\n";
}

// Whether `args` blocks on a server: a blocking command, or XREAD/XREADGROUP with BLOCK before
// STREAMS (the proxy pins a connection for those too).
bool Blocks(const CommandSpec& spec, const std::vector<std::string_view>& args) {
  // WAIT blocks until enough replicas acknowledge, or its timeout runs out.
  if (spec.kind == CommandKind::kBlocking || spec.pool == proxy::PoolCommand::kWait) return true;
  if (spec.key_pattern != proxy::KeyPattern::kXread &&
      spec.key_pattern != proxy::KeyPattern::kXreadGroup) {
    return false;
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string upper = ascii::Upper(args[i]);
    if (upper == "STREAMS") return false;
    if (upper == "BLOCK") return true;
  }
  return false;
}

// What a blocking command answers when its first key has data ("v:<key>", as MGET) or, for a
// key starting with "nil", when its timeout ran out: Redis's shapes per command.
std::string BlockingReply(const CommandSpec& spec, std::string_view key, Protocol protocol) {
  const bool resp3 = protocol == Protocol::kResp3;
  const std::string value = (resp3 ? "v3:" : "v:") + std::string(key);
  const std::string_view name = spec.name;
  if (key.starts_with("nil")) {
    if (name == "blmove" || name == "brpoplpush") return resp3 ? "_\r\n" : "$-1\r\n";
    return resp3 ? "_\r\n" : "*-1\r\n";
  }
  if (name == "blmove" || name == "brpoplpush") return Bulk(value);
  if (name == "bzpopmin" || name == "bzpopmax") {
    return "*3\r\n" + Bulk(key) + Bulk(value) + (resp3 ? ",1\r\n" : Bulk("1"));
  }
  if (name == "blmpop") return "*2\r\n" + Bulk(key) + "*1\r\n" + Bulk(value);
  if (name == "bzmpop") {
    return "*2\r\n" + Bulk(key) + "*1\r\n*2\r\n" + Bulk(value) + (resp3 ? ",1\r\n" : Bulk("1"));
  }
  return "*2\r\n" + Bulk(key) + Bulk(value);  // BLPOP, BRPOP
}

}  // namespace

bool FakeShard::KeysOf(const CommandSpec& spec, const std::vector<std::string_view>& args,
                       std::vector<std::string_view>* keys) {
  return ScanKeys(spec, args, keys) == proxy::KeyScan::kOk && !keys->empty();
}

bool FakeShard::RefusesArguments(const CommandSpec& spec,
                                 const std::vector<std::string_view>& args) {
  std::vector<std::string_view> keys;
  const proxy::KeyScan scan = ScanKeys(spec, args, &keys);
  return scan == proxy::KeyScan::kBadNumkeys ||
         (scan == proxy::KeyScan::kSyntaxError &&
          (spec.key_pattern == proxy::KeyPattern::kXread ||
           spec.key_pattern == proxy::KeyPattern::kXreadGroup));
}

std::string FakeShard::ReplyTo(const std::vector<std::string_view>& args, Protocol protocol) {
  const CommandSpec* spec = proxy::LookupCommand(args[0]);
  if (spec == nullptr) return "-ERR fake: unknown command\r\n";
  if (RefusesArguments(*spec, args)) return "-ERR fake: arguments refused\r\n";
  // PUBLISH/SPUBLISH: no subscriber of this shard's own (the proxy counts its clients).
  if (spec->kind == CommandKind::kPubSub) return ":0\r\n";
  switch (spec->local) {
    case LocalCommand::kAuth:
    case LocalCommand::kSelect:
    case LocalCommand::kUnwatch:
      return "+OK\r\n";
    case LocalCommand::kPing:
      // Arity is checked when PING runs, as Redis does: inside MULTI it is queued whatever follows.
      if (args.size() == 1) return "+PONG\r\n";
      if (args.size() == 2) return Bulk(args[1]);
      return "-ERR wrong number of arguments for 'ping' command\r\n";
    case LocalCommand::kEcho:
      return Bulk(args[1]);
    default:
      break;
  }
  std::vector<std::string_view> keys;
  const bool has_keys = KeysOf(*spec, args, &keys);
  if (has_keys && keys[0].starts_with("err"))
    return "-ERR fake " + std::string(spec->name) + "\r\n";
  const bool resp3 = protocol == Protocol::kResp3;
  if (resp3 && has_keys && keys[0].starts_with("berr")) {
    return Resp3Form(keys[0], EchoText(args, protocol));
  }
  switch (spec->kind) {
    case CommandKind::kSplitGet: {
      std::string out = "*" + std::to_string(keys.size()) + "\r\n";
      for (const std::string_view key : keys) out += MgetValue(key, protocol);
      return out;
    }
    case CommandKind::kSplitSet:
      return "+OK\r\n";
    case CommandKind::kSplitCount:
      return ":" + std::to_string(keys.size()) + "\r\n";
    case CommandKind::kBlocking:
      // Inside MULTI too: there Redis answers at once, as if it timed out or had data.
      if (has_keys) return BlockingReply(*spec, keys[0], protocol);
      return Echo(args, protocol);
    default:
      if (resp3 && has_keys) return Resp3Form(keys[0], EchoText(args, protocol));
      return Echo(args, protocol);
  }
}

// The per-name confirmation Redis gives a subscriber connection in RESP2.
static std::string SubscriberConfirmation(std::string_view type, std::string_view name,
                                          size_t count) {
  return "*3\r\n" + Bulk(type) + Bulk(name) + ":" + std::to_string(count) + "\r\n";
}

std::string FakeShard::PushBefore(const std::vector<std::string_view>& args, Protocol protocol) {
  const CommandSpec* spec = proxy::LookupCommand(args[0]);
  std::vector<std::string_view> keys;
  if (protocol != Protocol::kResp3 || spec == nullptr || !KeysOf(*spec, args, &keys) ||
      !keys[0].starts_with("push")) {
    return std::string();
  }
  return ">3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n" + Bulk(keys[0]);
}

std::string FakeShard::FanOutReply(const proxy::FanOutSpec& sub,
                                   const std::vector<std::string_view>& args, uint32_t shard,
                                   Protocol protocol) {
  switch (sub.merge) {
    case proxy::MergeKind::kAndArray: {
      // SCRIPT EXISTS: no shard has a SHA starting with "nil"; shard d alone lacks "miss<d>...".
      std::string out = "*" + std::to_string(args.size() - 2) + "\r\n";
      for (size_t i = 2; i < args.size(); ++i) {
        const std::string_view sha = args[i];
        const bool missing =
            sha.starts_with("nil") || (sha.size() > 4 && sha.starts_with("miss") &&
                                       static_cast<uint32_t>(sha[4] - '0') == shard);
        out += missing ? ":0\r\n" : ":1\r\n";
      }
      return out;
    }
    case proxy::MergeKind::kAllOk:
      return "+OK\r\n";
    case proxy::MergeKind::kAnyOk:
      // Shard 0 runs a function, and no shard a script.
      if (shard == 0 && ascii::EqualsIgnoreCase(args[0], "function")) return "+OK\r\n";
      return "-NOTBUSY No scripts in execution right now.\r\n";
    default:
      return Echo(args, protocol);
  }
}

std::string FakeShard::PoolReply(const CommandSpec& spec) {
  // An empty shard's answers (WAIT: no replica).
  switch (spec.pool) {
    case proxy::PoolCommand::kScan:
      return "*2\r\n$1\r\n0\r\n*0\r\n";
    case proxy::PoolCommand::kKeys:
      return "*0\r\n";
    case proxy::PoolCommand::kRandomKey:
      return "$-1\r\n";
    case proxy::PoolCommand::kFlush:
      return "+OK\r\n";
    default:
      return ":0\r\n";
  }
}

std::string FakeShard::KeyspaceReply(uint32_t shard) {
  // Database 0 on every shard, with figures that differ per shard so that the sums and the
  // key-weighted average TTL are seen; and a database of the shard's own.
  return Bulk("# Keyspace\r\ndb0:keys=" + std::to_string(shard + 1) + ",expires=" +
              std::to_string(shard) + ",avg_ttl=" + std::to_string(1000 * (shard + 1)) + "\r\ndb" +
              std::to_string(shard + 2) + ":keys=1,expires=1,avg_ttl=5\r\n");
}

void FakeShard::CheckKeys(const CommandSpec& spec, const std::vector<std::string_view>& keys) {
  for (const std::string_view key : keys) {
    const uint32_t owner = placement_->ServerFor(key);
    FUZZ_CHECK(owner == index_, "key '%s' of '%s' reached shard %u; it belongs to shard %u",
               Printable(key).c_str(), std::string(spec.name).c_str(), index_, owner);
  }
}

void FakeShard::Answer(Connection* connection, const std::vector<std::string_view>& args,
                       std::string* out) {
  FUZZ_CHECK(placement_ != nullptr, "shard %u got a request before the proxy started", index_);
  const CommandSpec* spec = proxy::LookupCommand(args[0]);
  FUZZ_CHECK(spec != nullptr, "the proxy forwarded an unknown command '%s' to shard %u",
             Printable(args[0]).c_str(), index_);
  const std::string name(spec->name);
  FUZZ_CHECK(proxy::ArityOk(*spec, args.size()), "the proxy forwarded '%s' with %zu arguments",
             name.c_str(), args.size());
  const bool handshake = spec->local == LocalCommand::kAuth || spec->local == LocalCommand::kSelect;
  FUZZ_CHECK(!handshake || (!connection->past_handshake && !connection->said_hello),
             "the proxy sent '%s' to shard %u after request %zu of its connection", name.c_str(),
             index_, connection->requests);
  if (handshake) {
    *out += ReplyTo(args, connection->protocol);
    return;
  }
  if (spec->local == LocalCommand::kHello && !connection->in_multi) {
    Hello(connection, args, out);
    return;
  }
  connection->past_handshake = true;
  if (spec->kind == CommandKind::kPubSub && spec->local != LocalCommand::kPublish &&
      spec->local != LocalCommand::kSpublish) {
    Subscriber(connection, *spec, args, out);
    return;
  }
  FUZZ_CHECK(!connection->subscriber,
             "the proxy sent shard %u '%s' on its subscriber connection, where Redis refuses it",
             index_, name.c_str());
  const bool after_client_id = connection->after_client_id;
  connection->after_client_id = false;
  if (!connection->in_multi && Blocks(*spec, args) && !RefusesArguments(*spec, args)) {
    // A blocking command holds its connection until it answers: the proxy must have taken the
    // connection for its client alone (CLIENT ID first, so that it could unblock it), else the
    // requests of others would wait behind it.
    FUZZ_CHECK(connection->dedicated,
               "the proxy sent shard %u '%s' on a connection it did not ask CLIENT ID on", index_,
               name.c_str());
  } else {
    FUZZ_CHECK(!after_client_id,
               "the proxy sent shard %u CLIENT ID and then '%s', not a blocking command", index_,
               name.c_str());
  }
  const Protocol protocol = connection->protocol;
  *out += PushBefore(args, protocol);
  if (connection->in_multi) {
    if (spec->local == LocalCommand::kExec) {
      if (connection->watch_dirty) {
        *out += NullArray(protocol);
      } else {
        *out += "*" + std::to_string(connection->queued.size()) + "\r\n";
        for (const std::string& reply : connection->queued) *out += reply;
      }
      // EXEC ends the transaction and every WATCH, whatever it answered.
      connection->in_multi = false;
      connection->queued.clear();
      connection->watch_dirty = false;
      connection->watching = false;
      return;
    }
    Queue(connection, *spec, args, out);
    return;
  }
  std::vector<std::string_view> keys;
  switch (spec->kind) {
    case CommandKind::kTransaction:
      switch (spec->local) {
        case LocalCommand::kMulti:
          connection->in_multi = true;
          *out += "+OK\r\n";
          return;
        case LocalCommand::kWatch:
          FUZZ_CHECK(KeysOf(*spec, args, &keys), "the proxy sent shard %u a WATCH without keys",
                     index_);
          CheckKeys(*spec, keys);
          for (const std::string_view key : keys) {
            connection->watch_dirty |= key.starts_with("dirty");
          }
          connection->watching = true;
          *out += "+OK\r\n";
          return;
        case LocalCommand::kUnwatch:
          connection->watch_dirty = false;
          connection->watching = false;
          *out += "+OK\r\n";
          return;
        default:
          FUZZ_CHECK(false, "the proxy sent shard %u '%s' outside a MULTI it sent", index_,
                     name.c_str());
      }
      return;
    case CommandKind::kFanOut: {
      const proxy::FanOutSpec* sub = proxy::FindFanOut(*spec, args[1]);
      FUZZ_CHECK(sub != nullptr && proxy::ArityOk(sub->arity, args.size()),
                 "the proxy sent shard %u '%s %s', which it must refuse, with %zu arguments",
                 index_, name.c_str(), Printable(args[1]).c_str(), args.size());
      *out += FanOutReply(*sub, args, index_, protocol);
      return;
    }
    case CommandKind::kLocal:
      // The proxy learns a command it does not know from every shard's COMMAND INFO, which knows
      // only the commands of the table: a name outside it is unknown here too, as in Redis.
      if (spec->local == LocalCommand::kCommand && args.size() == 3 &&
          ascii::Upper(args[1]) == "INFO") {
        FUZZ_CHECK(protocol == Protocol::kResp2,
                   "the proxy asked shard %u for COMMAND INFO on a RESP3 connection, but reads "
                   "the answer as RESP2",
                   index_);
        *out += "*1\r\n*-1\r\n";
        return;
      }
      // A blocking command's connection: the proxy learns its id, to unblock it should the
      // client leave (nothing blocks here: 0 unblocked).
      if (spec->local == LocalCommand::kClient && args.size() >= 2 &&
          ascii::Upper(args[1]) == "ID") {
        FUZZ_CHECK(!connection->dedicated,
                   "the proxy asked shard %u for CLIENT ID twice on one "
                   "connection",
                   index_);
        connection->dedicated = true;
        connection->after_client_id = true;
        *out += ":" + std::to_string(index_ + 1) + "\r\n";
        return;
      }
      if (spec->local == LocalCommand::kClient && args.size() == 4 &&
          ascii::Upper(args[1]) == "UNBLOCK") {
        *out += ":0\r\n";
        return;
      }
      // The proxy asks each shard for its keyspace to answer INFO, in this one form.
      FUZZ_CHECK(spec->local == LocalCommand::kInfo && args.size() == 2 && args[0] == "INFO" &&
                     args[1] == "keyspace",
                 "the proxy forwarded '%s', which it must answer itself, to shard %u", name.c_str(),
                 index_);
      FUZZ_CHECK(protocol == Protocol::kResp2,
                 "the proxy asked shard %u for INFO keyspace on a RESP3 connection, but reads the "
                 "answer as RESP2",
                 index_);
      *out += KeyspaceReply(index_);
      return;
    case CommandKind::kPool:
      *out += PoolReply(*spec);
      return;
    case CommandKind::kPubSub: {
      // PUBLISH, SPUBLISH: on the channel's server.
      const uint32_t owner = placement_->ServerFor(args[1]);
      FUZZ_CHECK(owner == index_, "'%s' of channel '%s' reached shard %u; it belongs to shard %u",
                 name.c_str(), Printable(args[1]).c_str(), index_, owner);
      *out += ReplyTo(args, protocol);
      return;
    }
    case CommandKind::kUnsupported:
      FUZZ_CHECK(false, "the proxy forwarded '%s', which it must refuse, to shard %u", name.c_str(),
                 index_);
      return;
    default:
      break;
  }
  if (!RefusesArguments(*spec, args)) {
    FUZZ_CHECK(KeysOf(*spec, args, &keys), "the proxy forwarded '%s' without a key to shard %u",
               name.c_str(), index_);
    CheckKeys(*spec, keys);
  }
  *out += ReplyTo(args, protocol);
}

void FakeShard::Hello(Connection* connection, const std::vector<std::string_view>& args,
                      std::string* out) {
  // The proxy says HELLO only as "HELLO 2" or "HELLO 3": no AUTH or SETNAME (its handshake
  // authenticates with AUTH), and a version it speaks.
  FUZZ_CHECK(args.size() == 2 && (args[1] == "2" || args[1] == "3"),
             "the proxy sent shard %u a HELLO with %zu arguments ('%s')", index_, args.size(),
             args.size() > 1 ? Printable(args[1]).c_str() : "");
  const Protocol protocol = args[1] == "3" ? Protocol::kResp3 : Protocol::kResp2;
  if (!connection->past_handshake) {
    // The handshake: AUTH and SELECT first (HELLO checks authentication), then HELLO 3 once.
    FUZZ_CHECK(protocol == Protocol::kResp3 && !connection->said_hello,
               "the proxy's handshake sent shard %u HELLO %s%s", index_,
               std::string(args[1]).c_str(), connection->said_hello ? " twice" : "");
    connection->said_hello = true;
  } else {
    // After requests, only a connection pinned to a client (WATCH) changes protocol, with it.
    FUZZ_CHECK(connection->watching,
               "the proxy sent shard %u HELLO %s after request %zu of a connection no client has "
               "pinned",
               index_, std::string(args[1]).c_str(), connection->requests);
    FUZZ_CHECK(protocol != connection->protocol,
               "the proxy sent shard %u HELLO %s on a connection already speaking it", index_,
               std::string(args[1]).c_str());
  }
  connection->protocol = protocol;
  *out += HelloReply(protocol, reinterpret_cast<uintptr_t>(connection) % 100000);
}

void FakeShard::Queue(Connection* connection, const CommandSpec& spec,
                      const std::vector<std::string_view>& args, std::string* out) {
  const std::string name(spec.name);
  std::vector<std::string_view> keys;
  switch (spec.kind) {
    case CommandKind::kLocal:
      FUZZ_CHECK(spec.local == LocalCommand::kPing || spec.local == LocalCommand::kEcho,
                 "the proxy queued '%s', which it must answer itself, in a MULTI on shard %u",
                 name.c_str(), index_);
      break;
    case CommandKind::kTransaction:
      FUZZ_CHECK(spec.local == LocalCommand::kUnwatch,
                 "the proxy sent '%s' inside a MULTI to shard %u", name.c_str(), index_);
      break;
    case CommandKind::kSingleKey:
    case CommandKind::kMultiKey:
    case CommandKind::kBlocking:
    case CommandKind::kSplitGet:
    case CommandKind::kSplitSet:
    case CommandKind::kSplitCount: {
      // A keyless command (EVAL with no keys) goes wherever its transaction goes.
      const proxy::KeyScan scan = ScanKeys(spec, args, &keys);
      FUZZ_CHECK(scan == proxy::KeyScan::kOk || scan == proxy::KeyScan::kNoKeys ||
                     RefusesArguments(spec, args),
                 "the proxy queued '%s' with arguments it must refuse (%d) on shard %u",
                 name.c_str(), static_cast<int>(scan), index_);
      CheckKeys(spec, keys);
      break;
    }
    case CommandKind::kFanOut:
    case CommandKind::kPool:
    case CommandKind::kPubSub:
      FUZZ_CHECK(spec.local == LocalCommand::kPublish || spec.local == LocalCommand::kSpublish,
                 "the proxy queued '%s', which it must refuse, in a MULTI on shard %u",
                 name.c_str(), index_);
      FUZZ_CHECK(placement_->ServerFor(args[1]) == index_,
                 "the proxy queued '%s' of another shard's channel on shard %u", name.c_str(),
                 index_);
      break;
    case CommandKind::kUnsupported:
      FUZZ_CHECK(false, "the proxy queued '%s', which it must refuse, in a MULTI on shard %u",
                 name.c_str(), index_);
      break;
  }
  connection->queued.push_back(ReplyTo(args, connection->protocol));
  *out += "+QUEUED\r\n";
}

}  // namespace ringproxy::fuzz

namespace ringproxy::fuzz {

void FakeShard::Subscriber(Connection* connection, const CommandSpec& spec,
                           const std::vector<std::string_view>& args, std::string* out) {
  const std::string name(spec.name);
  static constexpr std::string_view kTypes[2][3] = {
      {"subscribe", "psubscribe", "ssubscribe"}, {"unsubscribe", "punsubscribe", "sunsubscribe"}};
  size_t kind = 0;
  bool subscribe = true;
  switch (spec.local) {
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
    case LocalCommand::kSunsubscribe:
      kind = 2;
      subscribe = false;
      break;
    default:
      FUZZ_CHECK(false, "the proxy forwarded '%s', which it answers itself, to shard %u",
                 name.c_str(), index_);
  }
  // The proxy reads its subscriber connections as RESP2, outside any transaction, and carries
  // nothing else on them.
  FUZZ_CHECK(connection->protocol == Protocol::kResp2 && !connection->in_multi &&
                 !connection->watching && !connection->dedicated,
             "the proxy sent shard %u '%s' on a connection that is not one for subscriptions",
             index_, name.c_str());
  FUZZ_CHECK(subscribe || connection->subscriber,
             "the proxy sent shard %u '%s' on a connection that never subscribed", index_,
             name.c_str());
  // The hub asks for one name at a time.
  FUZZ_CHECK(args.size() == 2, "the proxy sent shard %u '%s' with %zu names", index_, name.c_str(),
             args.size() - 1);
  connection->subscriber = true;
  const std::string_view channel = args[1];
  if (kind != 1) {
    const uint32_t owner = placement_->ServerFor(channel);
    FUZZ_CHECK(owner == index_, "'%s' of channel '%s' reached shard %u; it belongs to shard %u",
               name.c_str(), Printable(channel).c_str(), index_, owner);
  }
  if (subscribe) {
    connection->subscriptions[kind].insert(std::string(channel));
  } else {
    connection->subscriptions[kind].erase(std::string(channel));
  }
  const size_t count =
      kind == 2 ? connection->subscriptions[2].size()
                : connection->subscriptions[0].size() + connection->subscriptions[1].size();
  *out += SubscriberConfirmation(kTypes[subscribe ? 0 : 1][kind], channel, count);
}

}  // namespace ringproxy::fuzz
