// The command table: every command Redis 7.0 knows, declared once, with how the proxy treats it.
//
//   args[0] --LookupCommand--> CommandSpec --ArityOk--> --CollectKeys--> key indices --> Router
//                                  |
//                                  +-- kind: route by one key, check that all keys share a
//                                      server, split per server, answer locally, or refuse
//
// Arity and the legacy key triple (first_key, last_key, key_step) are exactly what `COMMAND`
// reports on redis-server 7.0.15 (tests/integration/test_command_table.py checks every entry
// against a live server). Commands whose keys move with their arguments carry a KeyPattern that
// CollectKeys follows the way Redis's own key extraction (`COMMAND GETKEYS`) does.
//
// The table is immutable, built at compile time and safe to read from any thread; every pointer
// and view handed out lives for the whole program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringproxy::proxy {

enum class CommandKind : uint8_t {
  kSingleKey,    // exactly one key, at args[first_key] (always > 0): routed by it, no need to
                 // call CollectKeys
  kMultiKey,     // keys found by CollectKeys (one or more) that must all map to one server, else
                 // a cross-shard error; also subcommand containers (OBJECT ENCODING key)
  kSplitGet,     // MGET: split per server, array replies merged in key order
  kSplitSet,     // MSET: key/value pairs split per server, +OK
  kSplitCount,   // DEL, UNLINK, TOUCH, EXISTS: split per server, integer replies summed
  kLocal,        // answered by the proxy itself (see LocalCommand)
  kTransaction,  // MULTI, EXEC, DISCARD, WATCH, UNWATCH: the Router's transaction decisions
  kFanOut,       // a container whose subcommands (FanOutSpec) go to every server, replies merged
  kPool,         // the whole pool's keyspace (SCAN, DBSIZE, KEYS, ...) or the server of the
                 // client's last write (WAIT): see PoolCommand
  kBlocking,     // BLPOP, BZPOPMIN ...: keys on one server, as kMultiKey, run on a server
                 // connection of the client's own while they block (router.h)
  kUnsupported,  // answered with an -ERR naming the command; the connection stays open
  kPubSub,       // pub/sub (pubsub_hub.h) and RESET, which leaves subscribed mode: see
                 // LocalCommand's kSubscribe ... kReset
};

enum class LocalCommand : uint8_t {
  kNone,
  kPing,
  kEcho,
  kQuit,
  kAuth,
  kSelect,
  kHello,
  kCommand,
  kClient,
  kInfo,
  // kTransaction's
  kMulti,
  kExec,
  kDiscard,
  kWatch,
  kUnwatch,
  // kPubSub's
  kSubscribe,
  kUnsubscribe,
  kPsubscribe,
  kPunsubscribe,
  kSsubscribe,
  kSunsubscribe,
  kPublish,
  kSpublish,
  kPubsub,
  kReset,
};

// What a kPool command does across the pool's servers.
enum class PoolCommand : uint8_t {
  kNone,       // not kPool
  kScan,       // one server at a time, the cursor naming the server (scan_cursor.h)
  kDbsize,     // every server, counts summed
  kKeys,       // every server, arrays concatenated
  kRandomKey,  // every server, a random non-nil reply
  kFlush,      // FLUSHDB, FLUSHALL: every server when the pool's allow_flush says so, else refused
  kWait,       // WAIT: the server of the client's last keyed command
};

// How the replies of a request's fragments become the client's one reply.
enum class MergeKind : uint8_t {
  kForward,        // one fragment whose reply is the client's reply, byte for byte
  kArray,          // MGET: arrays from each server, re-ordered into key order
  kAllOk,          // MSET, SCRIPT FLUSH: +OK when every fragment said +OK
  kSum,            // DEL, UNLINK, TOUCH, EXISTS: integers summed
  kSameReply,      // SCRIPT LOAD, FUNCTION LOAD: every server's reply, which must be the same
  kAndArray,       // SCRIPT EXISTS: arrays of 0/1, an element 1 only where every server said 1
  kAnyOk,          // SCRIPT KILL, FUNCTION KILL: +OK when any server stopped a script, else the
                   // first error (NOTBUSY)
  kInfoKeyspace,   // INFO with the keyspace: the proxy's sections, then the servers' keyspaces
                   // summed (info_reply.h)
  kLearn,          // COMMAND INFO from every server, for the proxy itself (learned_commands.h)
  kConcat,         // KEYS: every server's array, concatenated in server order
  kRandomNonNull,  // RANDOMKEY: a random one of the servers' non-nil replies, else a server's nil
  kScan,           // SCAN: the server's [cursor, keys] with the cursor re-encoded for the pool
  kPubSub,         // (P|S)SUBSCRIBE: the reply is the proxy's, composed beforehand; each fragment
                   // stands for a server subscription it waits for, and its reply is dropped
  kPublish,        // PUBLISH, SPUBLISH: the server's integer becomes `sum`, the proxy's count
                   // of receivers (the server counts the proxy's shared connections)
};

// How CollectKeys finds the keys. kRange, kNumkeys, kNumkeysMayBeZero, kSortStore and kGeoStore
// start with the legacy range (none when first_key is 0) and add what the arguments name; the
// others find every key themselves. All follow what Redis's own key extraction does.
enum class KeyPattern : uint8_t {
  kRange,             // the legacy range alone: args[first_key..last_key] every key_step
                      // (a negative last_key counts from the end: -1 is the last argument)
  kNumkeys,           // then args[pattern_arg] keys right after it; at least one (ZUNIONSTORE)
  kNumkeysMayBeZero,  // the same, zero allowed (EVAL, FCALL): kNoKeys then
  kSortStore,         // then the argument of SORT's last STORE option, options read from
                      // pattern_arg on (LIMIT takes two arguments, BY and GET one)
  kGeoStore,          // then the argument of the last STORE or STOREDIST at or after
                      // pattern_arg (GEORADIUS, GEORADIUSBYMEMBER)
  kMigrate,           // MIGRATE: args[3], or with an empty args[3] everything after KEYS
  kXread,             // XREAD: the first half of the arguments after STREAMS
  kXreadGroup,        // XREADGROUP: the same, after GROUP's two arguments and NOACK
  kSubcommand,        // a container (OBJECT, MEMORY, XINFO, XGROUP): args[1] picks a
                      // SubcommandSpec whose own range holds the key
  kNotKeys,           // the legacy range names shard channels, not keys (SPUBLISH): no keys
  kKeySpecs,          // a learned command (learned_commands.h): its servers' key specifications
};

struct KeySpec;

// A subcommand of a container that names a key. Containers list only those: the others (OBJECT
// HELP, MEMORY STATS, ...) name no key, so the proxy has nothing to route them by.
struct SubcommandSpec {
  std::string_view name;  // lowercase, without the container ("encoding" of OBJECT ENCODING)
  int32_t arity;          // counts the container and the subcommand, as Redis does
  int16_t first_key;      // indices into the whole command's arguments
  int16_t last_key;
  int16_t key_step;
};

// A subcommand of a kFanOut container that the proxy sends to every server of the pool.
struct FanOutSpec {
  std::string_view name;  // lowercase, without the container ("load" of SCRIPT LOAD)
  int32_t arity;          // counts the container and the subcommand, as Redis does
  MergeKind merge;
};

struct CommandSpec {
  std::string_view name;  // lowercase
  int32_t arity;          // Redis convention: N exactly N args (incl. name), -N at least N
  CommandKind kind;
  LocalCommand local;  // kNone unless kind is kLocal
  // Legacy key specification exactly as Redis's COMMAND reports it (0, 0, 0: no fixed key).
  int16_t first_key;
  int16_t last_key;
  int16_t key_step;
  KeyPattern key_pattern;
  int16_t pattern_arg;                          // see KeyPattern; 0 when unused
  std::span<const SubcommandSpec> subcommands;  // kSubcommand only
  std::span<const FanOutSpec> fan_out;          // kFanOut only
  const KeySpec* key_specs;                     // kKeySpecs only: key_spec_count of them
  uint16_t key_spec_count;
  PoolCommand pool;  // kPool only
};

// The spec of the command named `name` in any letter case (no allocation), or nullptr when Redis
// 7.0 has no such command.
const CommandSpec* LookupCommand(std::string_view name);

// Every command, in the table's order (grouped by kind). For tools, tests and COMMAND replies.
std::span<const CommandSpec> AllCommands();

// The keyed subcommand of a container named `name` in any letter case, or nullptr.
const SubcommandSpec* FindSubcommand(const CommandSpec& spec, std::string_view name);
// The fan-out subcommand of a kFanOut container named `name` in any letter case, or nullptr.
const FanOutSpec* FindFanOut(const CommandSpec& spec, std::string_view name);

// Whether `argc` arguments (the command name included) satisfy spec.arity. Inline: every
// request asks.
inline bool ArityOk(int32_t arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}
inline bool ArityOk(const CommandSpec& spec, size_t argc) { return ArityOk(spec.arity, argc); }

enum class KeyScan : uint8_t {
  kOk,           // at least one key appended
  kBadNumkeys,   // numkeys is not an integer, negative, zero where keys are required, or more
                 // than the arguments that follow
  kNoKeys,       // well formed but names no key (EVAL ... 0, OBJECT HELP, PING): nothing to route
                 // by
  kWrongArity,   // the arguments do not fit: a keyed subcommand's own arity, a key without its
                 // value (MSET k1 v1 k2), fewer arguments than the fixed key positions
  kSyntaxError,  // a movable-key form the command itself rejects: XREAD without STREAMS or with
                 // unbalanced IDs, MIGRATE ... KEYS with a non-empty key argument or no keys
};

// Appends the index (into args) of every key, in argument order; args[0] is the command name.
// On any result but kOk, key_indices is left as it was. Reads the arguments only through the
// span; keeps no reference to them.
KeyScan CollectKeys(const CommandSpec& spec, std::span<const std::string_view> args,
                    std::vector<uint32_t>* key_indices);

}  // namespace ringproxy::proxy
