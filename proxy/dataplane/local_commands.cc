#include "dataplane/local_commands.h"

#include <string>

#include "base/ascii.h"
#include "base/decimal.h"
#include "dataplane/auth_failures.h"
#include "dataplane/info_reply.h"
#include "dataplane/resp_writer.h"

namespace ringproxy::proxy {
namespace {

// Checks a password given by AUTH or HELLO ... AUTH; `username` is empty for the one-argument
// form. Returns false after appending the error reply.
bool Authenticate(std::string_view username, std::string_view password, const LocalContext& context,
                  ClientSession* session, ByteBuffer* out) {
  const std::string& expected = context.pool->redis_auth;
  if (expected.empty()) {
    resp::AppendError(out, "ERR Client sent AUTH, but no password is set");
    return false;
  }
  // `redis_auth` is the password of Redis's default user.
  const bool user_ok = username.empty() || username == "default";
  if (PasswordMatches(password, expected) && user_ok) {
    session->authenticated = true;
    return true;
  }
  // A failed AUTH leaves the connection as it was, as in Redis 6 and later: a client already
  // authenticated stays so (no -NOAUTH for its next command), one that was not stays out.
  const bool last = ++session->auth_failures >= AuthFailures::kMaxPerConnection;
  if (last) session->close_after_reply = true;
  if (context.auth_failures != nullptr) {
    context.auth_failures->Record(session->id, last, context.now_ms);
  }
  if (username.empty()) {
    resp::AppendError(out, "ERR invalid password");
  } else {
    resp::AppendError(out, "WRONGPASS invalid username-password pair or user is disabled.");
  }
  return false;
}

bool ValidClientName(std::string_view name) {
  for (const char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

constexpr std::string_view kInvalidClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// HELLO [protover [AUTH username password] [SETNAME name]], checked in Redis's order: the
// version, then each option, then the password; only then do the name and the protocol change.
void AnswerHello(std::span<const std::string_view> args, const LocalContext& context,
                 ClientSession* session, ByteBuffer* out) {
  size_t next = 1;
  Protocol protocol = session->protocol;
  if (args.size() > 1) {
    int64_t version = 0;
    if (!ParseDecimal(args[1], &version)) {
      resp::AppendError(out, "ERR Protocol version is not an integer or out of range");
      return;
    }
    if (version < 2 || version > 3) {
      resp::AppendError(out, "NOPROTO unsupported protocol version");
      return;
    }
    protocol = version == 3 ? Protocol::kResp3 : Protocol::kResp2;
    next = 2;
  }
  std::string_view username;
  std::string_view password;
  bool authenticate = false;
  std::string_view name;
  bool rename = false;
  for (; next < args.size(); ++next) {
    const size_t left = args.size() - next - 1;
    if (ascii::EqualsIgnoreCase(args[next], "AUTH") && left >= 2) {
      username = args[next + 1];
      password = args[next + 2];
      authenticate = true;
      next += 2;
    } else if (ascii::EqualsIgnoreCase(args[next], "SETNAME") && left >= 1) {
      name = args[next + 1];
      if (!ValidClientName(name)) {
        resp::AppendError(out, kInvalidClientName);
        return;
      }
      rename = true;
      next += 1;
    } else {
      resp::AppendError(out, "ERR Syntax error in HELLO option '" + std::string(args[next]) + "'");
      return;
    }
  }
  if (authenticate && !Authenticate(username, password, context, session, out)) return;
  if (!context.pool->redis_auth.empty() && !session->authenticated) {
    resp::AppendError(out,
                      "NOAUTH HELLO must be called with the client already authenticated, "
                      "otherwise the HELLO AUTH <user> <pass> option can be used to "
                      "authenticate the client and select the RESP protocol version at the same "
                      "time");
    return;
  }
  if (rename) session->name = std::string(name);
  session->protocol = protocol;
  resp::AppendMapHeader(out, 7, protocol);
  resp::AppendBulk(out, "server");
  resp::AppendBulk(out, "redis");
  resp::AppendBulk(out, "version");
  resp::AppendBulk(out, kRedisVersion);
  resp::AppendBulk(out, "proto");
  resp::AppendInteger(out, ProtocolVersion(protocol));
  resp::AppendBulk(out, "id");
  resp::AppendInteger(out, static_cast<int64_t>(session->id));
  resp::AppendBulk(out, "mode");
  resp::AppendBulk(out, "standalone");
  resp::AppendBulk(out, "role");
  resp::AppendBulk(out, "master");
  resp::AppendBulk(out, "modules");
  resp::AppendArrayHeader(out, 0);
}

void AppendCommandInfo(const CommandSpec& spec, Protocol protocol, ByteBuffer* out) {
  resp::AppendArrayHeader(out, 6);
  resp::AppendBulk(out, spec.name);
  resp::AppendInteger(out, spec.arity);
  resp::AppendSetHeader(out, 0, protocol);  // flags
  resp::AppendInteger(out, spec.first_key);
  resp::AppendInteger(out, spec.last_key);
  resp::AppendInteger(out, spec.key_step);
}

void AnswerCommand(std::span<const std::string_view> args, Protocol protocol, ByteBuffer* out) {
  const std::span<const CommandSpec> all = AllCommands();
  if (args.size() == 1) {
    resp::AppendArrayHeader(out, static_cast<int64_t>(all.size()));
    for (const CommandSpec& spec : all) AppendCommandInfo(spec, protocol, out);
    return;
  }
  const std::string_view sub = args[1];
  if (ascii::EqualsIgnoreCase(sub, "COUNT")) {
    resp::AppendInteger(out, static_cast<int64_t>(all.size()));
  } else if (ascii::EqualsIgnoreCase(sub, "INFO")) {
    resp::AppendArrayHeader(out, static_cast<int64_t>(args.size() - 2));
    for (size_t i = 2; i < args.size(); ++i) {
      const CommandSpec* spec = LookupCommand(args[i]);
      if (spec == nullptr) {
        resp::AppendNull(out, protocol);
      } else {
        AppendCommandInfo(*spec, protocol, out);
      }
    }
  } else if (ascii::EqualsIgnoreCase(sub, "DOCS")) {
    // No documentation through the proxy: an empty map tells redis-cli to go without hints.
    resp::AppendMapHeader(out, 0, protocol);
  } else {
    resp::AppendError(out,
                      "ERR COMMAND " + ascii::Upper(sub) + " is not supported through the proxy");
  }
}

void AnswerClient(std::span<const std::string_view> args, ClientSession* session, ByteBuffer* out) {
  const std::string_view sub = args[1];
  if (ascii::EqualsIgnoreCase(sub, "SETNAME") && args.size() == 3) {
    if (!ValidClientName(args[2])) {
      resp::AppendError(out, kInvalidClientName);
      return;
    }
    session->name = std::string(args[2]);
    resp::AppendSimple(out, "OK");
  } else if (ascii::EqualsIgnoreCase(sub, "GETNAME") && args.size() == 2) {
    if (session->name.empty()) {
      resp::AppendNull(out, session->protocol);
    } else {
      resp::AppendBulk(out, session->name);
    }
  } else if (ascii::EqualsIgnoreCase(sub, "SETINFO") && args.size() == 4) {
    resp::AppendSimple(out, "OK");
  } else if (ascii::EqualsIgnoreCase(sub, "ID") && args.size() == 2) {
    resp::AppendInteger(out, static_cast<int64_t>(session->id));
  } else {
    resp::AppendError(out,
                      "ERR CLIENT " + ascii::Upper(sub) + " is not supported through the proxy");
  }
}

}  // namespace

bool PasswordMatches(std::string_view given, std::string_view expected) {
  // Touch every byte of the expected password whatever the guess, and fold the length
  // difference into the same accumulator.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

void AnswerLocalCommand(const CommandSpec& spec, std::span<const std::string_view> args,
                        const LocalContext& context, ClientSession* session, ByteBuffer* out) {
  switch (spec.local) {
    case LocalCommand::kPing:
      if (args.size() <= 2 && session->subscriptions > 0 && session->protocol == Protocol::kResp2) {
        // Redis's PING in RESP2 subscribed mode: a message-like pair, not +PONG.
        resp::AppendArrayHeader(out, 2);
        resp::AppendBulk(out, "pong");
        resp::AppendBulk(out, args.size() == 2 ? args[1] : std::string_view());
      } else if (args.size() == 1) {
        resp::AppendSimple(out, "PONG");
      } else if (args.size() == 2) {
        resp::AppendBulk(out, args[1]);
      } else {
        resp::AppendError(out, "ERR wrong number of arguments for 'ping' command");
      }
      return;
    case LocalCommand::kEcho:
      resp::AppendBulk(out, args[1]);
      return;
    case LocalCommand::kQuit:
      session->close_after_reply = true;
      resp::AppendSimple(out, "OK");
      return;
    case LocalCommand::kAuth: {
      if (args.size() > 3) {
        resp::AppendError(out, "ERR syntax error");
        return;
      }
      // AUTH <password>, or AUTH <username> <password>; Authenticate writes any error.
      const std::string_view username = args.size() == 3 ? args[1] : std::string_view();
      if (Authenticate(username, args.back(), context, session, out)) {
        resp::AppendSimple(out, "OK");
      }
      return;
    }
    case LocalCommand::kSelect: {
      int64_t db = -1;
      if (!ParseDecimal(args[1], &db)) {
        resp::AppendError(out, "ERR value is not an integer or out of range");
      } else if (db == context.pool->redis_db) {
        resp::AppendSimple(out, "OK");
      } else {
        resp::AppendError(out,
                          "ERR SELECT is not supported through the proxy: it serves database " +
                              std::to_string(context.pool->redis_db) + " only");
      }
      return;
    }
    case LocalCommand::kHello:
      AnswerHello(args, context, session, out);
      return;
    case LocalCommand::kCommand:
      AnswerCommand(args, session->protocol, out);
      return;
    case LocalCommand::kClient:
      AnswerClient(args, session, out);
      return;
    case LocalCommand::kNone:
    case LocalCommand::kInfo:  // ClientConnection answers it (info_reply.h): it may ask servers
    case LocalCommand::kMulti:
    case LocalCommand::kExec:
    case LocalCommand::kDiscard:
    case LocalCommand::kWatch:
    case LocalCommand::kUnwatch:
    case LocalCommand::kSubscribe:  // the client connection's, with its pool's PubSubHub
    case LocalCommand::kUnsubscribe:
    case LocalCommand::kPsubscribe:
    case LocalCommand::kPunsubscribe:
    case LocalCommand::kSsubscribe:
    case LocalCommand::kSunsubscribe:
    case LocalCommand::kPublish:
    case LocalCommand::kSpublish:
    case LocalCommand::kPubsub:
    case LocalCommand::kReset:
      break;  // the Router's decisions and the client connection's, never answered here
  }
  resp::AppendError(out, "ERR " + ascii::Upper(args[0]) + " is not supported through the proxy");
}

}  // namespace ringproxy::proxy
