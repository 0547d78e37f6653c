// The command table and its lookup.
//
// Lookup: a name is read into three words with fixed-size loads (no command name is longer than
// 24 bytes), folded to lowercase eight bytes at a time, hashed, and looked up in an
// open-addressing index of one byte per slot that is built at compile time; one probe usually
// finds the candidate, and one comparison of three words and a length confirms it. No
// allocation, no per-character branching.
#include "dataplane/command_table.h"

#include <array>
#include <bit>
#include <cstring>

#include "base/decimal.h"
#include "dataplane/key_spec.h"

namespace ringproxy::proxy {
namespace {

using K = CommandKind;
using L = LocalCommand;
using P = KeyPattern;

// Row builders keep each table line to what differs between commands.
constexpr CommandSpec Single(std::string_view name, int32_t arity) {
  return {name,    arity, K::kSingleKey,     L::kNone, 1, 1, 1, P::kRange, 0, {}, {},
          nullptr, 0,     PoolCommand::kNone};
}
constexpr CommandSpec Multi(std::string_view name, int32_t arity, int16_t first, int16_t last,
                            int16_t step, KeyPattern pattern = P::kRange, int16_t pattern_arg = 0) {
  return {name,    arity,       K::kMultiKey, L::kNone, first,   last, step,
          pattern, pattern_arg, {},           {},       nullptr, 0,    PoolCommand::kNone};
}
constexpr CommandSpec Split(std::string_view name, int32_t arity, CommandKind kind, int16_t first,
                            int16_t last, int16_t step) {
  return {name,      arity, kind, L::kNone, first,   last, step,
          P::kRange, 0,     {},   {},       nullptr, 0,    PoolCommand::kNone};
}
constexpr CommandSpec Local(std::string_view name, int32_t arity, LocalCommand local) {
  return {name,      arity, K::kLocal, local, 0,       0, 0,
          P::kRange, 0,     {},        {},    nullptr, 0, PoolCommand::kNone};
}
constexpr CommandSpec Transaction(std::string_view name, int32_t arity, LocalCommand op,
                                  int16_t first = 0, int16_t last = 0, int16_t step = 0) {
  return {name,    arity, K::kTransaction,   op, first, last, step, P::kRange, 0, {}, {},
          nullptr, 0,     PoolCommand::kNone};
}
constexpr CommandSpec FanOut(std::string_view name, int32_t arity,
                             std::span<const FanOutSpec> subcommands) {
  return {name,      arity, K::kFanOut, L::kNone,    0,       0, 0,
          P::kRange, 0,     {},         subcommands, nullptr, 0, PoolCommand::kNone};
}
constexpr CommandSpec Container(std::string_view name, int32_t arity,
                                std::span<const SubcommandSpec> subcommands) {
  return {name,           arity, K::kMultiKey, L::kNone, 0,       0, 0,
          P::kSubcommand, 0,     subcommands,  {},       nullptr, 0, PoolCommand::kNone};
}
constexpr CommandSpec Unsupported(std::string_view name, int32_t arity, int16_t first = 0,
                                  int16_t last = 0, int16_t step = 0,
                                  KeyPattern pattern = P::kRange, int16_t pattern_arg = 0) {
  return {
      name,    arity, K::kUnsupported,   L::kNone, first, last, step, pattern, pattern_arg, {}, {},
      nullptr, 0,     PoolCommand::kNone};
}
constexpr CommandSpec Blocking(std::string_view name, int32_t arity, int16_t first, int16_t last,
                               int16_t step, KeyPattern pattern = P::kRange,
                               int16_t pattern_arg = 0) {
  return {name,    arity,       K::kBlocking, L::kNone, first,   last, step,
          pattern, pattern_arg, {},           {},       nullptr, 0,    PoolCommand::kNone};
}

constexpr CommandSpec PubSub(std::string_view name, int32_t arity, LocalCommand op,
                             int16_t first = 0, int16_t last = 0, int16_t step = 0,
                             KeyPattern pattern = P::kRange) {
  return {name,    arity, K::kPubSub, op, first,   last, step,
          pattern, 0,     {},         {}, nullptr, 0,    PoolCommand::kNone};
}
constexpr CommandSpec Pool(std::string_view name, int32_t arity, PoolCommand pool) {
  return {name, arity, K::kPool, L::kNone, 0, 0, 0, P::kRange, 0, {}, {}, nullptr, 0, pool};
}

// Keyed subcommands; each names its key right after the subcommand, as COMMAND reports.
constexpr SubcommandSpec kObjectSubcommands[] = {
    {"encoding", 3, 2, 2, 1},
    {"freq", 3, 2, 2, 1},
    {"idletime", 3, 2, 2, 1},
    {"refcount", 3, 2, 2, 1},
};
constexpr SubcommandSpec kMemorySubcommands[] = {
    {"usage", -3, 2, 2, 1},
};
constexpr SubcommandSpec kXinfoSubcommands[] = {
    {"consumers", 4, 2, 2, 1},
    {"groups", 3, 2, 2, 1},
    {"stream", -3, 2, 2, 1},
};
constexpr SubcommandSpec kXgroupSubcommands[] = {
    {"create", -5, 2, 2, 1}, {"createconsumer", 5, 2, 2, 1}, {"delconsumer", 5, 2, 2, 1},
    {"destroy", 4, 2, 2, 1}, {"setid", -5, 2, 2, 1},
};

// Scripts and functions live on each server: loading, flushing or killing them is done on every
// server of the pool, so that a script loaded through the proxy is there whichever server its keys
// route to. Arity as COMMAND reports each subcommand.
constexpr FanOutSpec kScriptFanOut[] = {
    {"exists", -3, MergeKind::kAndArray},
    {"flush", -2, MergeKind::kAllOk},
    {"kill", 2, MergeKind::kAnyOk},
    {"load", 3, MergeKind::kSameReply},
};
constexpr FanOutSpec kFunctionFanOut[] = {
    {"delete", 3, MergeKind::kAllOk},    {"flush", -2, MergeKind::kAllOk},
    {"kill", 2, MergeKind::kAnyOk},      {"list", -2, MergeKind::kSameReply},
    {"load", -3, MergeKind::kSameReply}, {"restore", -3, MergeKind::kAllOk},
};

// Every command `COMMAND` lists on redis-server 7.0.15, once. Grouped by kind; alphabetical
// within a group.
constexpr CommandSpec kCommands[] = {
    // Answered by the proxy: connection state and introspection belong to the client's
    // connection to the proxy, not to any one server.
    Local("auth", -2, L::kAuth),
    Local("client", -2, L::kClient),
    Local("command", -1, L::kCommand),
    Local("echo", 2, L::kEcho),
    Local("hello", -1, L::kHello),
    Local("info", -1, L::kInfo),
    Local("ping", -1, L::kPing),
    Local("quit", -1, L::kQuit),
    Local("select", 2, L::kSelect),
    // Split per server and merged, so keys may live anywhere.
    Split("del", -2, K::kSplitCount, 1, -1, 1),
    Split("exists", -2, K::kSplitCount, 1, -1, 1),
    Split("mget", -2, K::kSplitGet, 1, -1, 1),
    Split("mset", -3, K::kSplitSet, 1, -1, 2),
    Split("touch", -2, K::kSplitCount, 1, -1, 1),
    Split("unlink", -2, K::kSplitCount, 1, -1, 1),
    // One key (legacy range 1..1): routed by it.
    Single("append", 3),
    Single("bitcount", -2),
    Single("bitfield", -2),
    Single("bitfield_ro", -2),
    Single("bitpos", -3),
    Single("decr", 2),
    Single("decrby", 3),
    Single("dump", 2),
    Single("expire", -3),
    Single("expireat", -3),
    Single("expiretime", 2),
    Single("geoadd", -5),
    Single("geodist", -4),
    Single("geohash", -2),
    Single("geopos", -2),
    Single("georadius_ro", -6),
    Single("georadiusbymember_ro", -5),
    Single("geosearch", -7),
    Single("get", 2),
    Single("getbit", 3),
    Single("getdel", 2),
    Single("getex", -2),
    Single("getrange", 4),
    Single("getset", 3),
    Single("hdel", -3),
    Single("hexists", 3),
    Single("hget", 3),
    Single("hgetall", 2),
    Single("hincrby", 4),
    Single("hincrbyfloat", 4),
    Single("hkeys", 2),
    Single("hlen", 2),
    Single("hmget", -3),
    Single("hmset", -4),
    Single("hrandfield", -2),
    Single("hscan", -3),
    Single("hset", -4),
    Single("hsetnx", 4),
    Single("hstrlen", 3),
    Single("hvals", 2),
    Single("incr", 2),
    Single("incrby", 3),
    Single("incrbyfloat", 3),
    Single("lindex", 3),
    Single("linsert", 5),
    Single("llen", 2),
    Single("lpop", -2),
    Single("lpos", -3),
    Single("lpush", -3),
    Single("lpushx", -3),
    Single("lrange", 4),
    Single("lrem", 4),
    Single("lset", 4),
    Single("ltrim", 4),
    Single("persist", 2),
    Single("pexpire", -3),
    Single("pexpireat", -3),
    Single("pexpiretime", 2),
    Single("pfadd", -2),
    Single("psetex", 4),
    Single("pttl", 2),
    Single("restore", -4),
    Single("rpop", -2),
    Single("rpush", -3),
    Single("rpushx", -3),
    Single("sadd", -3),
    Single("scard", 2),
    Single("set", -3),
    Single("setbit", 4),
    Single("setex", 4),
    Single("setnx", 3),
    Single("setrange", 4),
    Single("sismember", 3),
    Single("smembers", 2),
    Single("smismember", -3),
    Single("sort_ro", -2),
    Single("spop", -2),
    Single("srandmember", -2),
    Single("srem", -3),
    Single("sscan", -3),
    Single("strlen", 2),
    Single("substr", 4),
    Single("ttl", 2),
    Single("type", 2),
    Single("xack", -4),
    Single("xadd", -5),
    Single("xautoclaim", -6),
    Single("xclaim", -6),
    Single("xdel", -3),
    Single("xlen", 2),
    Single("xpending", -3),
    Single("xrange", -4),
    Single("xrevrange", -4),
    Single("xsetid", -3),
    Single("xtrim", -4),
    Single("zadd", -4),
    Single("zcard", 2),
    Single("zcount", 4),
    Single("zincrby", 4),
    Single("zlexcount", 4),
    Single("zmscore", -3),
    Single("zpopmax", -2),
    Single("zpopmin", -2),
    Single("zrandmember", -2),
    Single("zrange", -4),
    Single("zrangebylex", -4),
    Single("zrangebyscore", -4),
    Single("zrank", 3),
    Single("zrem", -3),
    Single("zremrangebylex", 4),
    Single("zremrangebyrank", 4),
    Single("zremrangebyscore", 4),
    Single("zrevrange", -4),
    Single("zrevrangebylex", -4),
    Single("zrevrangebyscore", -4),
    Single("zrevrank", 3),
    Single("zscan", -3),
    Single("zscore", 3),
    // Containers whose useful subcommands name one key at args[2] (OBJECT ENCODING key, MEMORY
    // USAGE key, XINFO STREAM key, XGROUP CREATE key ...): routed by that key, which only
    // CollectKeys can find (COMMAND gives a container no key), hence kMultiKey rather than
    // kSingleKey. Their keyless subcommands (HELP, MEMORY STATS, ...) describe one server and
    // have nothing to route by.
    Container("memory", -2, kMemorySubcommands),
    Container("object", -2, kObjectSubcommands),
    Container("xgroup", -2, kXgroupSubcommands),
    Container("xinfo", -2, kXinfoSubcommands),
    // Several keys that are read or written together (atomically, or by one script): they can
    // only run where all of them live. A single key is fine too (PFCOUNT k, SORT k).
    Multi("bitop", -4, 2, -1, 1),
    Multi("copy", -3, 1, 2, 1),
    Multi("eval", -3, 0, 0, 0, P::kNumkeysMayBeZero, 2),
    Multi("eval_ro", -3, 0, 0, 0, P::kNumkeysMayBeZero, 2),
    Multi("evalsha", -3, 0, 0, 0, P::kNumkeysMayBeZero, 2),
    Multi("evalsha_ro", -3, 0, 0, 0, P::kNumkeysMayBeZero, 2),
    Multi("fcall", -3, 0, 0, 0, P::kNumkeysMayBeZero, 2),
    Multi("fcall_ro", -3, 0, 0, 0, P::kNumkeysMayBeZero, 2),
    Multi("georadius", -6, 1, 1, 1, P::kGeoStore, 6),
    Multi("georadiusbymember", -5, 1, 1, 1, P::kGeoStore, 5),
    Multi("geosearchstore", -8, 1, 2, 1),
    Multi("lcs", -3, 1, 2, 1),
    Multi("lmove", 5, 1, 2, 1),
    Multi("lmpop", -4, 0, 0, 0, P::kNumkeys, 1),
    Multi("msetnx", -3, 1, -1, 2),
    Multi("pfcount", -2, 1, -1, 1),
    Multi("pfmerge", -2, 1, -1, 1),
    Multi("rename", 3, 1, 2, 1),
    Multi("renamenx", 3, 1, 2, 1),
    Multi("rpoplpush", 3, 1, 2, 1),
    Multi("sdiff", -2, 1, -1, 1),
    Multi("sdiffstore", -3, 1, -1, 1),
    Multi("sinter", -2, 1, -1, 1),
    Multi("sintercard", -3, 0, 0, 0, P::kNumkeys, 1),
    Multi("sinterstore", -3, 1, -1, 1),
    Multi("smove", 4, 1, 2, 1),
    Multi("sort", -2, 1, 1, 1, P::kSortStore, 2),
    Multi("sunion", -2, 1, -1, 1),
    Multi("sunionstore", -3, 1, -1, 1),
    Multi("zdiff", -3, 0, 0, 0, P::kNumkeys, 1),
    Multi("zdiffstore", -4, 1, 1, 1, P::kNumkeys, 2),
    Multi("zinter", -3, 0, 0, 0, P::kNumkeys, 1),
    Multi("zintercard", -3, 0, 0, 0, P::kNumkeys, 1),
    Multi("zinterstore", -4, 1, 1, 1, P::kNumkeys, 2),
    Multi("zmpop", -4, 0, 0, 0, P::kNumkeys, 1),
    Multi("zrangestore", -5, 1, 2, 1),
    Multi("zunion", -3, 0, 0, 0, P::kNumkeys, 1),
    Multi("zunionstore", -4, 1, 1, 1, P::kNumkeys, 2),
    // Streams read by key, on the server that owns them all (with BLOCK, as blocking commands).
    Multi("xread", -4, 0, 0, 0, P::kXread),
    Multi("xreadgroup", -7, 0, 0, 0, P::kXreadGroup),
    // Transactions run on the one server that owns their keys (see router.h): queued by the
    // proxy, sent as one MULTI ... EXEC block; WATCH pins a server connection to the client.
    Transaction("discard", 1, L::kDiscard),
    Transaction("exec", 1, L::kExec),
    Transaction("multi", 1, L::kMulti),
    Transaction("unwatch", 1, L::kUnwatch),
    Transaction("watch", -2, L::kWatch, 1, -1, 1),
    // Sent to every server, replies merged.
    FanOut("function", -2, kFunctionFanOut),
    FanOut("script", -2, kScriptFanOut),
    // The pool's keyspace as one: every server's, merged, or (SCAN) each server's in turn.
    // WAIT goes to the server of the client's last keyed command.
    Pool("dbsize", 1, PoolCommand::kDbsize),
    Pool("flushall", -1, PoolCommand::kFlush),
    Pool("flushdb", -1, PoolCommand::kFlush),
    Pool("keys", 2, PoolCommand::kKeys),
    Pool("randomkey", 1, PoolCommand::kRandomKey),
    Pool("scan", -2, PoolCommand::kScan),
    Pool("wait", 3, PoolCommand::kWait),
    // Refused. Keyless commands act on one whole server (or the replication, cluster or ACL
    // state of one) and mean nothing across a pool.
    Unsupported("acl", -2),
    Unsupported("asking", 1),
    Unsupported("bgrewriteaof", 1),
    Unsupported("bgsave", -1),
    Unsupported("cluster", -2),
    Unsupported("config", -2),
    Unsupported("debug", -2),
    Unsupported("failover", -1),
    Unsupported("lastsave", 1),
    Unsupported("latency", -2),
    Unsupported("lolwut", -1),
    Unsupported("module", -2),
    Unsupported("monitor", 1),
    Unsupported("pfselftest", 1),
    Unsupported("psync", -3),
    Unsupported("readonly", 1),
    Unsupported("readwrite", 1),
    Unsupported("replconf", -1),
    Unsupported("replicaof", 3),
    Unsupported("role", 1),
    Unsupported("save", 1),
    Unsupported("shutdown", -1),
    Unsupported("slaveof", 3),
    Unsupported("slowlog", -2),
    Unsupported("swapdb", 3),
    Unsupported("sync", 1),
    Unsupported("time", 1),
    // Pub/sub through the worker's shared subscriber connections (pubsub_hub.h); RESET, which
    // also leaves subscribed mode. Shard channels (SPUBLISH ...) fill the key range but are not
    // keys: the channel name routes them, as it routes PUBLISH and SUBSCRIBE.
    PubSub("psubscribe", -2, L::kPsubscribe),
    PubSub("publish", 3, L::kPublish),
    PubSub("pubsub", -2, L::kPubsub),
    PubSub("punsubscribe", -1, L::kPunsubscribe),
    PubSub("reset", 1, L::kReset),
    PubSub("spublish", 3, L::kSpublish, 1, 1, 1, P::kNotKeys),
    PubSub("ssubscribe", -2, L::kSsubscribe, 1, -1, 1, P::kNotKeys),
    PubSub("subscribe", -2, L::kSubscribe),
    PubSub("sunsubscribe", -1, L::kSunsubscribe, 1, -1, 1, P::kNotKeys),
    PubSub("unsubscribe", -1, L::kUnsubscribe),
    // Blocking commands run on a server connection of the client's own while they block
    // (router.h); XREAD and XREADGROUP do too when they carry BLOCK.
    Blocking("blmove", 6, 1, 2, 1),
    Blocking("blmpop", -5, 0, 0, 0, P::kNumkeys, 2),
    Blocking("blpop", -3, 1, -2, 1),
    Blocking("brpop", -3, 1, -2, 1),
    Blocking("brpoplpush", 4, 1, 2, 1),
    Blocking("bzmpop", -5, 0, 0, 0, P::kNumkeys, 2),
    Blocking("bzpopmax", -3, 1, -2, 1),
    Blocking("bzpopmin", -3, 1, -2, 1),
    // MIGRATE moves keys between servers behind the proxy's back; MOVE targets another
    // database of one server; RESTORE-ASKING is cluster-internal; PFDEBUG is an admin debugging
    // aid (Redis flags it admin).
    Unsupported("migrate", -6, 3, 3, 1, P::kMigrate),
    Unsupported("move", 3, 1, 1, 1),
    Unsupported("pfdebug", 3, 2, 2, 1),
    Unsupported("restore-asking", -4, 1, 1, 1),
};

constexpr size_t kCommandCount = std::size(kCommands);

constexpr char ToLowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// `input` in any case equals `lower`, which is already lowercase.
constexpr bool EqualsLowercase(std::string_view input, std::string_view lower) {
  if (input.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < input.size(); ++i) {
    if (ToLowerAscii(input[i]) != lower[i]) {
      return false;
    }
  }
  return true;
}

constexpr bool IsLowercaseName(std::string_view name) {
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || c == '-')) {
      return false;
    }
  }
  return !name.empty();
}

// --- Lookup index -------------------------------------------------------------------------------

constexpr size_t kWords = 3;
constexpr size_t kMaxNameLength = kWords * 8;

// A name's bytes folded to lowercase in kWords words, read with a few fixed-size loads that may
// overlap (which bytes land where depends only on the length, so for names of one length equal
// words mean equal names); `length` tells the lengths apart. Fixed-size loads straight from the
// name: copying a variable-length name into a padded buffer first made the word loads stall on
// store forwarding, which cost more than all the rest of the lookup.
struct PackedName {
  std::array<uint64_t, kWords> words{};
  uint64_t length = 0;

  constexpr bool operator==(const PackedName&) const = default;
};

constexpr uint64_t kByteOnes = 0x0101010101010101ULL;

// ASCII A-Z to a-z in all eight bytes at once; every other byte value is left alone.
constexpr uint64_t FoldWord(uint64_t w) {
  const uint64_t low7 = w & (0x7F * kByteOnes);
  // Adding to seven-bit values cannot carry into the next byte; bit 7 of each sum says whether
  // the byte is >= 'A' and > 'Z' respectively.
  const uint64_t at_least_a = low7 + (0x80 - 'A') * kByteOnes;
  const uint64_t above_z = low7 + (0x7F - 'Z') * kByteOnes;
  const uint64_t upper = (at_least_a ^ above_z) & ~w & (0x80 * kByteOnes);
  return w | (upper >> 2);
}

// How many of the kWords words a name of `length` bytes fills; the others stay zero.
constexpr size_t WordsFor(size_t length) { return length <= 8 ? 1 : length <= 16 ? 2 : 3; }

// `load(offset, size)` gives the `size` (1, 4 or 8) bytes at `offset` as the native-endian
// integer a memcpy would; `size` is a constant at every call, so the loads compile to single
// moves. `length` must be 1..kMaxNameLength and kUsed WordsFor(length): a constant, so the
// lookup of a short name (GET, SET, ...) neither loads, folds nor hashes the words it leaves zero.
template <size_t kUsed, typename Load>
constexpr PackedName Pack(size_t length, Load load) {
  PackedName packed;
  if constexpr (kUsed == 1) {
    packed.words[0] = length >= 4
                          ? load(0, 4) | (load(length - 4, 4) << 32)
                          : load(0, 1) | (load(length / 2, 1) << 8) | (load(length - 1, 1) << 16);
  } else if constexpr (kUsed == 2) {
    packed.words[0] = load(0, 8);
    packed.words[1] = load(length - 8, 8);
  } else {
    packed.words[0] = load(0, 8);
    packed.words[1] = load(8, 8);
    packed.words[2] = load(length - 8, 8);
  }
  for (size_t i = 0; i < kUsed; ++i) {
    packed.words[i] = FoldWord(packed.words[i]);
  }
  packed.length = length;
  return packed;
}

// For the table's names, at compile time: assembles what a native load would read.
constexpr PackedName PackConstant(std::string_view name) {
  const auto load = [name](size_t offset, size_t size) {
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) {
      const size_t byte = std::endian::native == std::endian::little ? i : size - 1 - i;
      value |= static_cast<uint64_t>(static_cast<unsigned char>(name[offset + i])) << (8 * byte);
    }
    return value;
  };
  switch (WordsFor(name.size())) {
    case 1:
      return Pack<1>(name.size(), load);
    case 2:
      return Pack<2>(name.size(), load);
    default:
      return Pack<3>(name.size(), load);
  }
}

template <size_t kUsed>
[[gnu::always_inline]] inline PackedName PackRuntime(const char* data, size_t length) {
  return Pack<kUsed>(length, [data](size_t offset, size_t size) -> uint64_t {
    if (size == 8) {
      uint64_t v;
      std::memcpy(&v, data + offset, sizeof v);
      return v;
    }
    if (size == 4) {
      uint32_t v;
      std::memcpy(&v, data + offset, sizeof v);
      return v;
    }
    return static_cast<unsigned char>(data[offset]);
  });
}

constexpr size_t kIndexBits = 10;
constexpr size_t kIndexSize = size_t{1} << kIndexBits;
constexpr uint8_t kEmptySlot = 0xFF;
static_assert(kCommandCount < kEmptySlot, "slot entries are one byte");
// A quarter full: misses (unknown names) also stop early, at the first empty slot.
static_assert(kCommandCount * 4 <= kIndexSize, "keep the index at most a quarter full");

// Multiplicative hashing: the top bits of each product depend on every bit of its word.
constexpr size_t HomeSlot(const PackedName& p) {
  const uint64_t h = (p.words[0] * 0x9E3779B97F4A7C15ULL) ^
                     ((p.words[1] + p.length) * 0xC2B2AE3D27D4EB4FULL) ^
                     (p.words[2] * 0x165667B19E3779F9ULL);
  return static_cast<size_t>(h >> (64 - kIndexBits));
}

struct LookupIndex {
  std::array<uint8_t, kIndexSize> slots{};
  std::array<PackedName, kCommandCount> names{};
  size_t max_probe = 0;  // the farthest any name sits from its home slot
};

constexpr LookupIndex BuildIndex() {
  LookupIndex index;
  for (uint8_t& slot : index.slots) {
    slot = kEmptySlot;
  }
  for (size_t i = 0; i < kCommandCount; ++i) {
    index.names[i] = PackConstant(kCommands[i].name);
    const size_t home = HomeSlot(index.names[i]);
    size_t probe = 0;
    while (index.slots[(home + probe) % kIndexSize] != kEmptySlot) {
      ++probe;
    }
    index.slots[(home + probe) % kIndexSize] = static_cast<uint8_t>(i);
    if (probe > index.max_probe) {
      index.max_probe = probe;
    }
  }
  return index;
}

constexpr LookupIndex kIndex = BuildIndex();
static_assert(kIndex.max_probe <= 4, "the hash clusters the table's names; change its constants");

// The command whose packed name is `packed` (kUsed words of it in use), or nullptr. Names of one
// length use the same words, so the length and those words decide.
template <size_t kUsed>
[[gnu::always_inline]] inline const CommandSpec* Find(const PackedName& packed) {
  const size_t home = HomeSlot(packed);
  for (size_t probe = 0; probe <= kIndex.max_probe; ++probe) {
    const uint8_t slot = kIndex.slots[(home + probe) % kIndexSize];
    if (slot == kEmptySlot) {
      return nullptr;
    }
    const PackedName& candidate = kIndex.names[slot];
    bool same = candidate.length == packed.length && candidate.words[0] == packed.words[0];
    if constexpr (kUsed >= 2) {
      same = same && candidate.words[1] == packed.words[1];
    }
    if constexpr (kUsed >= 3) {
      same = same && candidate.words[2] == packed.words[2];
    }
    if (same) {
      return &kCommands[slot];
    }
  }
  return nullptr;
}

constexpr size_t kMinNameLength = [] {
  size_t shortest = kMaxNameLength;
  for (const CommandSpec& spec : kCommands) {
    shortest = spec.name.size() < shortest ? spec.name.size() : shortest;
  }
  return shortest;
}();
static_assert(kMinNameLength >= 1, "Pack reads at least one byte");

// The table's invariants, checked when it is compiled.
constexpr bool TableIsWellFormed() {
  for (size_t i = 0; i < kCommandCount; ++i) {
    const CommandSpec& spec = kCommands[i];
    if (!IsLowercaseName(spec.name) || spec.name.size() > kMaxNameLength || spec.arity == 0) {
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (kCommands[j].name == spec.name) {
        return false;  // declared twice
      }
    }
    if ((spec.kind == K::kLocal || spec.kind == K::kTransaction || spec.kind == K::kPubSub) !=
        (spec.local != L::kNone)) {
      return false;
    }
    if ((spec.kind == K::kPool) != (spec.pool != PoolCommand::kNone)) {
      return false;
    }
    if ((spec.kind == K::kFanOut) != !spec.fan_out.empty()) {
      return false;
    }
    for (const FanOutSpec& sub : spec.fan_out) {
      if (!IsLowercaseName(sub.name) || sub.arity == 0) {
        return false;
      }
    }
    if ((spec.key_pattern == P::kSubcommand) != !spec.subcommands.empty()) {
      return false;
    }
    for (const SubcommandSpec& sub : spec.subcommands) {
      if (!IsLowercaseName(sub.name) || sub.first_key < 2) {
        return false;
      }
    }
    const bool needs_arg = spec.key_pattern == P::kNumkeys ||
                           spec.key_pattern == P::kNumkeysMayBeZero ||
                           spec.key_pattern == P::kSortStore || spec.key_pattern == P::kGeoStore;
    if (needs_arg != (spec.pattern_arg > 0)) {
      return false;
    }
    // A numkeys argument follows the fixed keys.
    if (needs_arg && spec.first_key > 0 && spec.last_key >= spec.pattern_arg) {
      return false;
    }
    if (spec.first_key > 0 && spec.key_step <= 0) {
      return false;
    }
    // The proxy's hot path routes kSingleKey by args[first_key] without CollectKeys.
    if (spec.kind == K::kSingleKey &&
        (spec.first_key <= 0 || spec.last_key != spec.first_key || spec.key_pattern != P::kRange)) {
      return false;
    }
  }
  return true;
}
static_assert(TableIsWellFormed(), "a command is malformed, listed twice, or not lowercase");

// --- Key extraction -----------------------------------------------------------------------------

// Appends args[first..last] every `step`; a negative `last` counts from the end. first == 0 is
// "no fixed keys".
KeyScan AppendRange(int first, int last, int step, size_t argc, std::vector<uint32_t>* out) {
  if (first == 0) {
    return KeyScan::kOk;
  }
  const int64_t count = static_cast<int64_t>(argc);
  const int64_t last_index = last >= 0 ? last : count + last;
  if (first >= count || last_index >= count || last_index < first) {
    return KeyScan::kWrongArity;
  }
  // A range running to the end holds whole groups (MSET's key/value pairs).
  if (last < 0 && (last_index - first + 1) % step != 0) {
    return KeyScan::kWrongArity;
  }
  for (int64_t i = first; i <= last_index; i += step) {
    out->push_back(static_cast<uint32_t>(i));
  }
  return KeyScan::kOk;
}

// `count` keys right after args[numkeys_at] (EVAL script numkeys k1 k2 ...).
KeyScan AppendNumkeys(std::span<const std::string_view> args, size_t numkeys_at, bool zero_ok,
                      std::vector<uint32_t>* out) {
  if (numkeys_at >= args.size()) {
    return KeyScan::kWrongArity;
  }
  int64_t count = 0;
  if (!ParseDecimal(args[numkeys_at], &count) || count < 0 || (count == 0 && !zero_ok) ||
      static_cast<uint64_t>(count) > args.size() - numkeys_at - 1) {
    return KeyScan::kBadNumkeys;
  }
  for (size_t i = numkeys_at + 1; i <= numkeys_at + static_cast<size_t>(count); ++i) {
    out->push_back(static_cast<uint32_t>(i));
  }
  return KeyScan::kOk;
}

// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]:
// the options are skipped with their arguments so that a pattern spelled "store" is not taken
// for the option; the last STORE wins, as in SORT itself.
void AppendSortStore(std::span<const std::string_view> args, size_t from,
                     std::vector<uint32_t>* out) {
  size_t store = 0;
  for (size_t i = from; i < args.size(); ++i) {
    if (EqualsLowercase(args[i], "limit")) {
      i += 2;
    } else if (EqualsLowercase(args[i], "get") || EqualsLowercase(args[i], "by")) {
      i += 1;
    } else if (EqualsLowercase(args[i], "store") && i + 1 < args.size()) {
      store = ++i;
    }
  }
  if (store != 0) {
    out->push_back(static_cast<uint32_t>(store));
  }
}

// GEORADIUS ... [STORE key] [STOREDIST key]: the last of them is where the result goes.
void AppendGeoStore(std::span<const std::string_view> args, size_t from,
                    std::vector<uint32_t>* out) {
  size_t store = 0;
  for (size_t i = from; i < args.size(); ++i) {
    if ((EqualsLowercase(args[i], "store") || EqualsLowercase(args[i], "storedist")) &&
        i + 1 < args.size()) {
      store = ++i;
    }
  }
  if (store != 0) {
    out->push_back(static_cast<uint32_t>(store));
  }
}

// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k ...]
KeyScan AppendMigrate(std::span<const std::string_view> args, std::vector<uint32_t>* out) {
  constexpr size_t kKeyArg = 3;
  constexpr size_t kOptionsFrom = 6;
  for (size_t i = kOptionsFrom; i < args.size(); ++i) {
    if (EqualsLowercase(args[i], "auth")) {
      i += 1;
    } else if (EqualsLowercase(args[i], "auth2")) {
      i += 2;
    } else if (EqualsLowercase(args[i], "keys")) {
      if (!args[kKeyArg].empty() || i + 1 == args.size()) {
        return KeyScan::kSyntaxError;
      }
      for (size_t k = i + 1; k < args.size(); ++k) {
        out->push_back(static_cast<uint32_t>(k));
      }
      return KeyScan::kOk;
    }
  }
  if (args.size() <= kKeyArg) {
    return KeyScan::kWrongArity;
  }
  out->push_back(kKeyArg);
  return KeyScan::kOk;
}

// XREAD [COUNT n] [BLOCK ms] STREAMS k1 k2 ... id1 id2 ...
// XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k1 ... id1 ...
KeyScan AppendStreams(std::span<const std::string_view> args, bool group,
                      std::vector<uint32_t>* out) {
  size_t streams = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (EqualsLowercase(args[i], "count") || EqualsLowercase(args[i], "block")) {
      i += 1;
    } else if (group && EqualsLowercase(args[i], "group")) {
      i += 2;
    } else if (group && EqualsLowercase(args[i], "noack")) {
      continue;
    } else if (EqualsLowercase(args[i], "streams")) {
      streams = i;
      break;
    } else {
      break;
    }
  }
  const size_t rest = streams == 0 ? 0 : args.size() - streams - 1;
  if (rest == 0 || rest % 2 != 0) {
    return KeyScan::kSyntaxError;
  }
  for (size_t i = streams + 1; i <= streams + rest / 2; ++i) {
    out->push_back(static_cast<uint32_t>(i));
  }
  return KeyScan::kOk;
}

KeyScan AppendKeys(const CommandSpec& spec, std::span<const std::string_view> args,
                   std::vector<uint32_t>* out) {
  switch (spec.key_pattern) {
    case P::kNotKeys:
      return KeyScan::kOk;
    case P::kKeySpecs:
      return FindKeysBySpecs(std::span<const KeySpec>(spec.key_specs, spec.key_spec_count), args,
                             out);
    case P::kMigrate:
      return AppendMigrate(args, out);
    case P::kXread:
      return AppendStreams(args, /*group=*/false, out);
    case P::kXreadGroup:
      return AppendStreams(args, /*group=*/true, out);
    case P::kSubcommand: {
      const SubcommandSpec* sub = args.size() < 2 ? nullptr : FindSubcommand(spec, args[1]);
      if (sub == nullptr) {
        return args.size() < 2 ? KeyScan::kWrongArity : KeyScan::kOk;
      }
      if (!ArityOk(sub->arity, args.size())) {
        return KeyScan::kWrongArity;
      }
      return AppendRange(sub->first_key, sub->last_key, sub->key_step, args.size(), out);
    }
    case P::kRange:
    case P::kNumkeys:
    case P::kNumkeysMayBeZero:
    case P::kSortStore:
    case P::kGeoStore:
      break;
  }
  const KeyScan fixed = AppendRange(spec.first_key, spec.last_key, spec.key_step, args.size(), out);
  if (fixed != KeyScan::kOk) {
    return fixed;
  }
  const auto from = static_cast<size_t>(spec.pattern_arg);
  switch (spec.key_pattern) {
    case P::kNumkeys:
      return AppendNumkeys(args, from, /*zero_ok=*/false, out);
    case P::kNumkeysMayBeZero:
      return AppendNumkeys(args, from, /*zero_ok=*/true, out);
    case P::kSortStore:
      AppendSortStore(args, from, out);
      return KeyScan::kOk;
    case P::kGeoStore:
      AppendGeoStore(args, from, out);
      return KeyScan::kOk;
    default:
      return KeyScan::kOk;
  }
}

}  // namespace

const CommandSpec* LookupCommand(std::string_view name) {
  // One unsigned comparison rejects both too short and too long names.
  if (name.size() - kMinNameLength > kMaxNameLength - kMinNameLength) {
    return nullptr;
  }
  if (name.size() <= 8) {
    return Find<1>(PackRuntime<1>(name.data(), name.size()));
  }
  if (name.size() <= 16) {
    return Find<2>(PackRuntime<2>(name.data(), name.size()));
  }
  return Find<3>(PackRuntime<3>(name.data(), name.size()));
}

std::span<const CommandSpec> AllCommands() { return kCommands; }

const SubcommandSpec* FindSubcommand(const CommandSpec& spec, std::string_view name) {
  for (const SubcommandSpec& sub : spec.subcommands) {
    if (EqualsLowercase(name, sub.name)) {
      return &sub;
    }
  }
  return nullptr;
}

const FanOutSpec* FindFanOut(const CommandSpec& spec, std::string_view name) {
  for (const FanOutSpec& sub : spec.fan_out) {
    if (EqualsLowercase(name, sub.name)) {
      return &sub;
    }
  }
  return nullptr;
}

KeyScan CollectKeys(const CommandSpec& spec, std::span<const std::string_view> args,
                    std::vector<uint32_t>* key_indices) {
  const size_t before = key_indices->size();
  KeyScan result = AppendKeys(spec, args, key_indices);
  if (result == KeyScan::kOk && key_indices->size() == before) {
    result = KeyScan::kNoKeys;
  }
  if (result != KeyScan::kOk) {
    key_indices->resize(before);
  }
  return result;
}

}  // namespace ringproxy::proxy
