// The commands ringproxy answers itself (PING, ECHO, QUIT, AUTH, SELECT, HELLO, COMMAND, CLIENT,
// INFO): enough for today's client libraries to finish their connection handshake through a
// proxy that is not one Redis.
#pragma once

#include <span>
#include <string_view>

#include "base/byte_buffer.h"
#include "config/pool_config.h"
#include "dataplane/client_session.h"
#include "dataplane/command_table.h"

namespace ringproxy::proxy {

class AuthFailures;

struct LocalContext {
  const config::PoolConfig* pool;
  int worker_id;
  int workers;
  AuthFailures* auth_failures = nullptr;  // counts and logs wrong passwords; null: not counted
  uint64_t now_ms = 0;                    // the worker's clock, for auth_failures
};

// Appends the reply to `args` (args[0] is the command name; arity already checked). A wrong
// password is counted in the session, and the AuthFailures::kMaxPerConnection-th sets
// session->close_after_reply.
void AnswerLocalCommand(const CommandSpec& spec, std::span<const std::string_view> args,
                        const LocalContext& context, ClientSession* session, ByteBuffer* out);

// Constant-time comparison, so a password check does not leak how much of a guess was right.
bool PasswordMatches(std::string_view given, std::string_view expected);

}  // namespace ringproxy::proxy
