// LearnedCommands: the commands a pool's servers know and the proxy's own table does not (a
// newer Redis, Valkey, a module such as RedisJSON or RedisBloom), learned from the servers' own
// key specifications (COMMAND INFO) the first time a client sends one, and kept for the life of
// the pool. The compile-time table stays the fast path; this is consulted only for a name it
// does not have.
//
// One per pool and worker, on the worker's thread. A name asked about is in one of these states:
// never asked (the caller then sends COMMAND INFO to every live server and calls Learn with
// their replies), being learned (the caller waits for Learn), known (a CommandSpec the Router
// routes like any other), unknown to every server (Redis's unknown-command error; asked again
// after kUnknownForMs, so a module loaded later is found), or failed (no server could say, e.g.
// all down: an error for kFailedForMs, then asked again).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dataplane/command_table.h"
#include "dataplane/key_spec.h"

namespace ringproxy::proxy {

class LearnedCommands {
 public:
  enum class State : uint8_t { kAsk, kLearning, kKnown, kUnknown, kFailed };
  struct Lookup {
    State state = State::kAsk;
    const CommandSpec* spec = nullptr;  // kKnown
    std::string_view error;             // kFailed: the reply for the client, without '-'
  };

  // Names the proxy will learn: letters, digits and ". _ - | :" (JSON.GET, BF.ADD, FT.SEARCH),
  // at most kMaxNameBytes. Anything else is simply an unknown command, never asked about.
  static constexpr size_t kMaxNameBytes = 64;
  // Learned or being learned at once; past it a new name is an unknown command.
  static constexpr size_t kMaxEntries = 1024;
  static constexpr uint64_t kUnknownForMs = 10000;
  static constexpr uint64_t kFailedForMs = 1000;

  static bool Learnable(std::string_view name);

  // What is known of `name` (any letter case) now.
  Lookup Find(std::string_view name, uint64_t now_ms) const;
  // `name` is being asked about; false when the table is full (treat it as unknown).
  bool BeginLearning(std::string_view name);
  // The servers' replies to COMMAND INFO <name> (each one whole RESP reply, errors included):
  // the first server that knows the command describes it.
  void Learn(std::string_view name, std::span<const std::string> replies, uint64_t now_ms);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;  // lowercase
    State state = State::kLearning;
    uint64_t until_ms = 0;  // kUnknown, kFailed
    std::string error;      // kFailed
    std::vector<KeySpec> key_specs;
    CommandSpec spec{};  // kKnown; its name and key_specs point into this entry
  };

  // Fills `entry` from one server's COMMAND INFO element; false when it is not a description.
  static bool Describe(const struct RespValue& info, Entry* entry);

  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
};

}  // namespace ringproxy::proxy
