#include "dataplane/command_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tests/proxy/allocation_counter.h"

namespace ringproxy::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const CommandSpec& Spec(std::string_view name) {
  const CommandSpec* spec = LookupCommand(name);
  EXPECT_NE(spec, nullptr) << name;
  static const CommandSpec kMissing{};
  return spec != nullptr ? *spec : kMissing;
}

struct Scan {
  KeyScan result;
  std::vector<uint32_t> keys;
};

// Runs CollectKeys on a command line given as its arguments.
Scan Keys(std::initializer_list<std::string_view> line) {
  const std::vector<std::string_view> args(line);
  Scan scan{KeyScan::kOk, {}};
  const CommandSpec* spec = LookupCommand(args.at(0));
  EXPECT_NE(spec, nullptr) << args.at(0);
  if (spec != nullptr) {
    scan.result = CollectKeys(*spec, args, &scan.keys);
  }
  return scan;
}

std::vector<uint32_t> KeysOk(std::initializer_list<std::string_view> line) {
  Scan scan = Keys(line);
  EXPECT_EQ(scan.result, KeyScan::kOk);
  return scan.keys;
}

KeyScan Failure(std::initializer_list<std::string_view> line) {
  Scan scan = Keys(line);
  EXPECT_THAT(scan.keys, IsEmpty());
  return scan.result;
}

// --- Lookup -------------------------------------------------------------------------------------

TEST(CommandLookup, FindsCommandInAnyLetterCase) {
  const CommandSpec* lower = LookupCommand("get");
  ASSERT_NE(lower, nullptr);
  EXPECT_EQ(lower->name, "get");
  EXPECT_EQ(LookupCommand("GET"), lower);
  EXPECT_EQ(LookupCommand("gEt"), lower);
  EXPECT_EQ(LookupCommand("GEORADIUSBYMEMBER_RO"), LookupCommand("georadiusbymember_ro"));
  EXPECT_EQ(LookupCommand("Restore-Asking")->name, "restore-asking");
}

TEST(CommandLookup, FindsEveryTableEntryByItsNameInUpperAndLowerCase) {
  for (const CommandSpec& spec : AllCommands()) {
    std::string upper(spec.name);
    for (char& c : upper) {
      c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    EXPECT_EQ(LookupCommand(spec.name), &spec) << spec.name;
    EXPECT_EQ(LookupCommand(upper), &spec) << upper;
  }
}

TEST(CommandLookup, UnknownNamesGiveNull) {
  EXPECT_EQ(LookupCommand(""), nullptr);
  EXPECT_EQ(LookupCommand("g"), nullptr);
  EXPECT_EQ(LookupCommand("ge"), nullptr);
  EXPECT_EQ(LookupCommand("gets"), nullptr);
  EXPECT_EQ(LookupCommand("nosuchcommand"), nullptr);
  EXPECT_EQ(LookupCommand("get "), nullptr);
  EXPECT_EQ(LookupCommand(std::string_view("get\0", 4)), nullptr);
  EXPECT_EQ(LookupCommand("georadiusbymember_ro_"), nullptr);
  EXPECT_EQ(LookupCommand(std::string(200, 'a')), nullptr);
  // Commands of other Redis versions or modules.
  EXPECT_EQ(LookupCommand("hexpire"), nullptr);
  EXPECT_EQ(LookupCommand("json.get"), nullptr);
}

TEST(CommandLookup, FoldsOnlyAsciiLetters) {
  // Each equals a command name once bit 0x20 is forced on every byte, or once the top bit is
  // dropped: a fold that is not exactly A-Z -> a-z would accept them.
  const std::string near_misses[] = {
      std::string("georadius") + '\x7F' + "ro",    // '_' is 0x5F
      std::string("restore") + '\x0D' + "asking",  // '-' is 0x2D
      std::string(1, '\xC7') + "ET",               // 0xC7 & 0x7F is 'G'
      std::string(1, '\xE7') + "et",               // 0xE7 & 0x7F is 'g'
  };
  for (const std::string& name : near_misses) {
    EXPECT_EQ(LookupCommand(name), nullptr) << name;
  }
}

TEST(CommandLookup, ReadsOnlyTheViewedBytes) {
  const std::string buffer = "GETSET";
  EXPECT_EQ(LookupCommand(std::string_view(buffer).substr(0, 3))->name, "get");
  EXPECT_EQ(LookupCommand(buffer)->name, "getset");
}

TEST(CommandLookup, DoesNotAllocate) {
  const std::string names[] = {"GET", "georadiusbymember_ro", "nosuchcommand", "HgetAll"};
  const size_t before = ringproxy::test_support::AllocationCount();
  size_t found = 0;
  for (const std::string& name : names) {
    found += LookupCommand(name) != nullptr ? 1 : 0;
  }
  EXPECT_EQ(ringproxy::test_support::AllocationCount(), before);
  EXPECT_EQ(found, 3u);
  // The counter does see allocations.
  const std::vector<int>* control = new std::vector<int>(4);
  EXPECT_GT(ringproxy::test_support::AllocationCount(), before);
  delete control;
}

TEST(CommandLookup, FindSubcommandIsCaseInsensitiveAndListsOnlyKeyedOnes) {
  const CommandSpec& object = Spec("object");
  const SubcommandSpec* encoding = FindSubcommand(object, "ENCODING");
  ASSERT_NE(encoding, nullptr);
  EXPECT_EQ(encoding->name, "encoding");
  EXPECT_EQ(encoding->arity, 3);
  EXPECT_EQ(encoding->first_key, 2);
  EXPECT_EQ(FindSubcommand(object, "help"), nullptr);
  EXPECT_EQ(FindSubcommand(object, "encodingx"), nullptr);
  EXPECT_EQ(FindSubcommand(Spec("get"), "encoding"), nullptr);
}

// --- Arity --------------------------------------------------------------------------------------

TEST(CommandArity, ExactArityAcceptsOnlyThatCount) {
  const CommandSpec& get = Spec("get");
  EXPECT_EQ(get.arity, 2);
  EXPECT_FALSE(ArityOk(get, 1));
  EXPECT_TRUE(ArityOk(get, 2));
  EXPECT_FALSE(ArityOk(get, 3));
}

TEST(CommandArity, NegativeArityIsAMinimum) {
  const CommandSpec& set = Spec("set");
  EXPECT_EQ(set.arity, -3);
  EXPECT_FALSE(ArityOk(set, 2));
  EXPECT_TRUE(ArityOk(set, 3));
  EXPECT_TRUE(ArityOk(set, 7));
  const CommandSpec& ping = Spec("ping");
  EXPECT_FALSE(ArityOk(ping, 0));
  EXPECT_TRUE(ArityOk(ping, 1));
  EXPECT_TRUE(ArityOk(ping, 2));
}

// --- Kinds --------------------------------------------------------------------------------------

TEST(CommandKinds, OneKeyCommandsRouteByTheirKey) {
  for (std::string_view name : {"get", "set", "hset", "zadd", "lpush", "expire", "xadd", "getex",
                                "incr", "dump", "restore", "sort_ro", "georadius_ro", "pfadd"}) {
    const CommandSpec& spec = Spec(name);
    EXPECT_EQ(spec.kind, CommandKind::kSingleKey) << name;
    EXPECT_EQ(spec.first_key, 1) << name;
    EXPECT_EQ(spec.last_key, 1) << name;
  }
}

TEST(CommandKinds, EverySingleKeyCommandHasItsKeyAtFirstKey) {
  size_t single = 0;
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.kind != CommandKind::kSingleKey) {
      continue;
    }
    ++single;
    EXPECT_GT(spec.first_key, 0) << spec.name;
    EXPECT_EQ(spec.last_key, spec.first_key) << spec.name;
    EXPECT_EQ(spec.key_pattern, KeyPattern::kRange) << spec.name;
  }
  EXPECT_GT(single, 100u);
}

TEST(CommandKinds, SplitCommands) {
  EXPECT_EQ(Spec("mget").kind, CommandKind::kSplitGet);
  EXPECT_EQ(Spec("mset").kind, CommandKind::kSplitSet);
  for (std::string_view name : {"del", "unlink", "touch", "exists"}) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kSplitCount) << name;
  }
}

TEST(CommandKinds, KeysReadOrWrittenTogetherMustShareAServer) {
  for (std::string_view name : {"sinter",
                                "sinterstore",
                                "sunion",
                                "sunionstore",
                                "sdiff",
                                "sdiffstore",
                                "zunionstore",
                                "zinterstore",
                                "zdiffstore",
                                "zunion",
                                "zinter",
                                "zdiff",
                                "smove",
                                "rename",
                                "renamenx",
                                "lmove",
                                "rpoplpush",
                                "pfcount",
                                "pfmerge",
                                "copy",
                                "msetnx",
                                "bitop",
                                "eval",
                                "evalsha",
                                "eval_ro",
                                "evalsha_ro",
                                "fcall",
                                "fcall_ro",
                                "sintercard",
                                "zintercard",
                                "lcs",
                                "georadius",
                                "georadiusbymember",
                                "geosearchstore",
                                "sort",
                                "lmpop",
                                "zmpop",
                                "zrangestore"}) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kMultiKey) << name;
  }
}

TEST(CommandKinds, LocalCommandsNameWhatTheProxyAnswers) {
  const std::pair<std::string_view, LocalCommand> locals[] = {
      {"ping", LocalCommand::kPing},       {"echo", LocalCommand::kEcho},
      {"quit", LocalCommand::kQuit},       {"auth", LocalCommand::kAuth},
      {"select", LocalCommand::kSelect},   {"hello", LocalCommand::kHello},
      {"command", LocalCommand::kCommand}, {"client", LocalCommand::kClient},
      {"info", LocalCommand::kInfo},
  };
  for (const auto& [name, local] : locals) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kLocal) << name;
    EXPECT_EQ(Spec(name).local, local) << name;
  }
  size_t local_count = 0;
  for (const CommandSpec& spec : AllCommands()) {
    local_count += spec.kind == CommandKind::kLocal ? 1 : 0;
    if (spec.kind != CommandKind::kLocal && spec.kind != CommandKind::kTransaction &&
        spec.kind != CommandKind::kPubSub) {
      EXPECT_EQ(spec.local, LocalCommand::kNone) << spec.name;
    }
  }
  EXPECT_EQ(local_count, std::size(locals));
}

TEST(CommandKinds, ServerWideCommandsAreUnsupported) {
  for (std::string_view name : {"config", "debug", "shutdown", "save", "bgsave", "monitor",
                                "slaveof", "replicaof", "cluster", "time", "lastsave", "swapdb",
                                "move", "migrate", "readonly", "readwrite", "acl"}) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kUnsupported) << name;
  }
}

TEST(CommandKinds, BlockingCommandsAreTheirOwnKind) {
  for (std::string_view name :
       {"blpop", "brpop", "blmove", "brpoplpush", "bzpopmin", "bzpopmax", "blmpop", "bzmpop"}) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kBlocking) << name;
  }
  // XREAD and XREADGROUP block only with BLOCK: the Router decides by the option.
  EXPECT_EQ(Spec("xread").kind, CommandKind::kMultiKey);
  EXPECT_EQ(Spec("xreadgroup").kind, CommandKind::kMultiKey);
}

TEST(CommandKinds, PubSubCommandsAndResetAreThePubSubHubs) {
  for (std::string_view name :
       {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
        "publish", "spublish", "pubsub", "reset"}) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kPubSub) << name;
    EXPECT_NE(Spec(name).local, LocalCommand::kNone) << name;
  }
}

TEST(CommandKinds, KeyspaceCommandsAndWaitActAcrossThePool) {
  const std::pair<std::string_view, PoolCommand> expected[] = {
      {"scan", PoolCommand::kScan},     {"dbsize", PoolCommand::kDbsize},
      {"keys", PoolCommand::kKeys},     {"randomkey", PoolCommand::kRandomKey},
      {"flushdb", PoolCommand::kFlush}, {"flushall", PoolCommand::kFlush},
      {"wait", PoolCommand::kWait},
  };
  for (const auto& [name, pool] : expected) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kPool) << name;
    EXPECT_EQ(Spec(name).pool, pool) << name;
  }
  size_t pool_count = 0;
  for (const CommandSpec& spec : AllCommands()) {
    pool_count += spec.kind == CommandKind::kPool;
    EXPECT_EQ(spec.kind == CommandKind::kPool, spec.pool != PoolCommand::kNone) << spec.name;
  }
  EXPECT_EQ(pool_count, std::size(expected));
}

TEST(CommandKinds, TransactionCommandsAreTheRoutersOwn) {
  const std::pair<std::string_view, LocalCommand> expected[] = {
      {"multi", LocalCommand::kMulti},     {"exec", LocalCommand::kExec},
      {"discard", LocalCommand::kDiscard}, {"watch", LocalCommand::kWatch},
      {"unwatch", LocalCommand::kUnwatch},
  };
  for (const auto& [name, op] : expected) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kTransaction) << name;
    EXPECT_EQ(Spec(name).local, op) << name;
  }
  // WATCH's keys are found like any other command's.
  EXPECT_THAT(KeysOk({"WATCH", "a", "b"}), ElementsAre(1, 2));
}

TEST(CommandKinds, ScriptAndFunctionSubcommandsFanOutWithTheirMerge) {
  const CommandSpec& script = Spec("script");
  ASSERT_EQ(script.kind, CommandKind::kFanOut);
  EXPECT_EQ(FindFanOut(script, "LOAD")->merge, MergeKind::kSameReply);
  EXPECT_EQ(FindFanOut(script, "exists")->merge, MergeKind::kAndArray);
  EXPECT_EQ(FindFanOut(script, "Flush")->merge, MergeKind::kAllOk);
  EXPECT_EQ(FindFanOut(script, "kill")->merge, MergeKind::kAnyOk);
  EXPECT_EQ(FindFanOut(script, "debug"), nullptr);
  const CommandSpec& function = Spec("function");
  ASSERT_EQ(function.kind, CommandKind::kFanOut);
  EXPECT_EQ(FindFanOut(function, "load")->merge, MergeKind::kSameReply);
  EXPECT_EQ(FindFanOut(function, "kill")->merge, MergeKind::kAnyOk);
  EXPECT_EQ(FindFanOut(function, "stats"), nullptr);
}

TEST(CommandKinds, StreamReadsRouteByTheirStreams) {
  for (std::string_view name : {"xread", "xreadgroup"}) {
    EXPECT_EQ(Spec(name).kind, CommandKind::kMultiKey) << name;
  }
}

TEST(CommandKinds, SubcommandContainersRouteByTheKeyOfTheirSubcommand) {
  for (std::string_view name : {"object", "memory", "xinfo", "xgroup"}) {
    const CommandSpec& spec = Spec(name);
    // Only CollectKeys finds their key, so they are not kSingleKey.
    EXPECT_EQ(spec.kind, CommandKind::kMultiKey) << name;
    EXPECT_EQ(spec.key_pattern, KeyPattern::kSubcommand) << name;
    EXPECT_FALSE(spec.subcommands.empty()) << name;
    // As COMMAND reports a container: no key of its own.
    EXPECT_EQ(spec.first_key, 0) << name;
  }
}

TEST(CommandKinds, EveryRoutedCommandHasAWayToFindAKey) {
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.kind == CommandKind::kLocal || spec.kind == CommandKind::kUnsupported ||
        spec.kind == CommandKind::kFanOut || spec.kind == CommandKind::kPool ||
        spec.kind == CommandKind::kPubSub ||  // channels route them, not keys
        (spec.kind == CommandKind::kTransaction && spec.local != LocalCommand::kWatch)) {
      continue;
    }
    const bool movable =
        spec.key_pattern != KeyPattern::kRange && spec.key_pattern != KeyPattern::kNotKeys;
    EXPECT_TRUE(spec.first_key > 0 || movable) << spec.name;
  }
}

// --- CollectKeys --------------------------------------------------------------------------------

TEST(CollectKeys, FixedPositions) {
  EXPECT_THAT(KeysOk({"GET", "k"}), ElementsAre(1));
  EXPECT_THAT(KeysOk({"SET", "k", "v", "EX", "10"}), ElementsAre(1));
  EXPECT_THAT(KeysOk({"RENAME", "a", "b"}), ElementsAre(1, 2));
  EXPECT_THAT(KeysOk({"BITOP", "AND", "dest", "a", "b"}), ElementsAre(2, 3, 4));
  EXPECT_THAT(KeysOk({"MGET", "a", "b", "c"}), ElementsAre(1, 2, 3));
  // The last argument is the timeout, not a key.
  EXPECT_THAT(KeysOk({"BLPOP", "a", "b", "0"}), ElementsAre(1, 2));
  EXPECT_THAT(KeysOk({"COPY", "a", "b", "DB", "1", "REPLACE"}), ElementsAre(1, 2));
}

TEST(CollectKeys, AppendsToWhatTheVectorHolds) {
  std::vector<uint32_t> keys = {99};
  const std::vector<std::string_view> args = {"MGET", "a", "b"};
  EXPECT_EQ(CollectKeys(Spec("mget"), args, &keys), KeyScan::kOk);
  EXPECT_THAT(keys, ElementsAre(99, 1, 2));
}

TEST(CollectKeys, FailureLeavesTheVectorAsItWas) {
  std::vector<uint32_t> keys = {99};
  const std::vector<std::string_view> args = {"EVAL", "s", "3", "a", "b"};
  EXPECT_EQ(CollectKeys(Spec("eval"), args, &keys), KeyScan::kBadNumkeys);
  EXPECT_THAT(keys, ElementsAre(99));
}

TEST(CollectKeys, KeyValuePairsTakeEveryOtherArgument) {
  EXPECT_THAT(KeysOk({"MSET", "a", "1", "b", "2"}), ElementsAre(1, 3));
  EXPECT_THAT(KeysOk({"MSETNX", "a", "1"}), ElementsAre(1));
  EXPECT_EQ(Failure({"MSET", "a", "1", "b"}), KeyScan::kWrongArity);
}

TEST(CollectKeys, TooFewArgumentsForTheFixedKeysIsWrongArity) {
  EXPECT_EQ(Failure({"GET"}), KeyScan::kWrongArity);
  EXPECT_EQ(Failure({"RENAME", "a"}), KeyScan::kWrongArity);
}

TEST(CollectKeys, KeylessCommandsHaveNoKeys) {
  EXPECT_EQ(Failure({"PING"}), KeyScan::kNoKeys);
  EXPECT_EQ(Failure({"KEYS", "*"}), KeyScan::kNoKeys);
  // Shard channels fill the legacy key range but are not keys.
  EXPECT_EQ(Failure({"SPUBLISH", "channel", "message"}), KeyScan::kNoKeys);
}

TEST(CollectKeys, ScriptNumkeys) {
  EXPECT_THAT(KeysOk({"EVAL", "return 1", "2", "a", "b", "arg"}), ElementsAre(3, 4));
  EXPECT_THAT(KeysOk({"evalsha", "abc", "1", "a"}), ElementsAre(3));
  EXPECT_THAT(KeysOk({"FCALL", "f", "1", "a", "x", "y"}), ElementsAre(3));
  EXPECT_THAT(KeysOk({"FCALL_RO", "f", "3", "a", "b", "c"}), ElementsAre(3, 4, 5));
  EXPECT_EQ(Failure({"EVAL", "return 1", "0"}), KeyScan::kNoKeys);
  EXPECT_EQ(Failure({"EVAL", "return 1", "0", "arg"}), KeyScan::kNoKeys);
}

TEST(CollectKeys, BadNumkeys) {
  EXPECT_EQ(Failure({"EVAL", "s", "-1", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "x", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "2", "a"}), KeyScan::kBadNumkeys);
  // Redis reads numkeys strictly: no sign, no leading zero, no spaces, no overflow.
  EXPECT_EQ(Failure({"EVAL", "s", "+1", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "01", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "-0", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "1 ", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "18446744073709551617", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"EVAL", "s", "-9223372036854775808", "a"}), KeyScan::kBadNumkeys);
  // Where keys are required, zero of them is an error too.
  EXPECT_EQ(Failure({"ZUNION", "0", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"SINTERCARD", "0", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"ZUNIONSTORE", "dest", "0", "a"}), KeyScan::kBadNumkeys);
  EXPECT_EQ(Failure({"LMPOP", "3", "a", "LEFT"}), KeyScan::kBadNumkeys);
}

TEST(CollectKeys, NumkeysAfterADestinationKey) {
  EXPECT_THAT(KeysOk({"ZUNIONSTORE", "dest", "2", "a", "b", "WEIGHTS", "1", "2"}),
              ElementsAre(1, 3, 4));
  EXPECT_THAT(KeysOk({"ZINTERSTORE", "dest", "1", "a"}), ElementsAre(1, 3));
  EXPECT_THAT(KeysOk({"ZDIFFSTORE", "dest", "2", "a", "b"}), ElementsAre(1, 3, 4));
}

TEST(CollectKeys, NumkeysFirst) {
  EXPECT_THAT(KeysOk({"ZUNION", "2", "a", "b", "WITHSCORES"}), ElementsAre(2, 3));
  EXPECT_THAT(KeysOk({"SINTERCARD", "2", "a", "b", "LIMIT", "5"}), ElementsAre(2, 3));
  EXPECT_THAT(KeysOk({"ZINTERCARD", "1", "a"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"LMPOP", "2", "a", "b", "LEFT", "COUNT", "3"}), ElementsAre(2, 3));
  EXPECT_THAT(KeysOk({"ZMPOP", "1", "a", "MIN"}), ElementsAre(2));
  // The blocking forms put the timeout first.
  EXPECT_THAT(KeysOk({"BLMPOP", "0", "2", "a", "b", "LEFT"}), ElementsAre(3, 4));
  EXPECT_THAT(KeysOk({"BZMPOP", "1.5", "1", "a", "MAX"}), ElementsAre(3));
}

TEST(CollectKeys, SortStoreTarget) {
  EXPECT_THAT(KeysOk({"SORT", "k"}), ElementsAre(1));
  EXPECT_THAT(KeysOk({"SORT", "k", "BY", "w_*", "STORE", "dest"}), ElementsAre(1, 5));
  EXPECT_THAT(KeysOk({"sort", "k", "limit", "0", "10", "store", "dest"}), ElementsAre(1, 6));
  // Option arguments spelled like STORE are skipped with their option.
  EXPECT_THAT(KeysOk({"SORT", "k", "GET", "store", "ALPHA"}), ElementsAre(1));
  EXPECT_THAT(KeysOk({"SORT", "k", "BY", "store", "GET", "#"}), ElementsAre(1));
  EXPECT_THAT(KeysOk({"SORT", "k", "LIMIT", "store", "store", "DESC"}), ElementsAre(1));
  // The last STORE wins, as in SORT; a STORE with nothing after it names nothing.
  EXPECT_THAT(KeysOk({"SORT", "k", "STORE", "a", "STORE", "b"}), ElementsAre(1, 5));
  EXPECT_THAT(KeysOk({"SORT", "k", "STORE"}), ElementsAre(1));
  // SORT_RO has no STORE option.
  EXPECT_THAT(KeysOk({"SORT_RO", "k", "STORE", "dest"}), ElementsAre(1));
}

TEST(CollectKeys, GeoradiusStoreTargets) {
  EXPECT_THAT(KeysOk({"GEORADIUS", "k", "15", "37", "200", "km"}), ElementsAre(1));
  EXPECT_THAT(KeysOk({"GEORADIUS", "k", "15", "37", "200", "km", "ASC", "STORE", "dest"}),
              ElementsAre(1, 8));
  EXPECT_THAT(KeysOk({"GEORADIUS", "k", "15", "37", "200", "km", "storedist", "dest"}),
              ElementsAre(1, 7));
  EXPECT_THAT(KeysOk({"GEORADIUSBYMEMBER", "k", "m", "100", "km", "STORE", "dest"}),
              ElementsAre(1, 6));
  EXPECT_THAT(KeysOk({"GEORADIUS_RO", "k", "15", "37", "200", "km", "STORE", "dest"}),
              ElementsAre(1));
  EXPECT_THAT(KeysOk({"GEOSEARCHSTORE", "dest", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"}),
              ElementsAre(1, 2));
}

TEST(CollectKeys, StreamsAfterTheStreamsKeyword) {
  EXPECT_THAT(KeysOk({"XREAD", "STREAMS", "a", "0"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "0", "$"}),
              ElementsAre(6, 7));
  EXPECT_THAT(KeysOk({"XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "a", ">"}),
              ElementsAre(6));
  // A stream named "streams" after the keyword is a key like any other.
  EXPECT_THAT(KeysOk({"XREAD", "STREAMS", "streams", "0"}), ElementsAre(2));
  EXPECT_EQ(Failure({"XREAD", "STREAMS", "a", "b", "0"}), KeyScan::kSyntaxError);
  EXPECT_EQ(Failure({"XREAD", "COUNT", "1", "a", "0"}), KeyScan::kSyntaxError);
  EXPECT_EQ(Failure({"XREAD", "COUNT", "1", "STREAMS"}), KeyScan::kSyntaxError);
}

TEST(CollectKeys, MigrateKeyOrKeysOption) {
  EXPECT_THAT(KeysOk({"MIGRATE", "h", "6379", "k", "0", "1000"}), ElementsAre(3));
  EXPECT_THAT(KeysOk({"MIGRATE", "h", "6379", "", "0", "1000", "COPY", "KEYS", "a", "b"}),
              ElementsAre(8, 9));
  // AUTH2's two arguments are skipped even when one of them reads "keys".
  EXPECT_THAT(KeysOk({"MIGRATE", "h", "6379", "", "0", "1000", "AUTH2", "keys", "pw", "KEYS", "a"}),
              ElementsAre(10));
  EXPECT_EQ(Failure({"MIGRATE", "h", "6379", "k", "0", "1000", "KEYS", "a"}),
            KeyScan::kSyntaxError);
  EXPECT_EQ(Failure({"MIGRATE", "h", "6379", "", "0", "1000", "KEYS"}), KeyScan::kSyntaxError);
}

TEST(CollectKeys, KeyedSubcommands) {
  EXPECT_THAT(KeysOk({"OBJECT", "ENCODING", "k"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"object", "Freq", "k"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"MEMORY", "USAGE", "k", "SAMPLES", "5"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"XINFO", "STREAM", "k", "FULL"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"}), ElementsAre(2));
  EXPECT_THAT(KeysOk({"XGROUP", "DESTROY", "k", "g"}), ElementsAre(2));
}

TEST(CollectKeys, KeylessOrMalformedSubcommands) {
  EXPECT_EQ(Failure({"OBJECT", "HELP"}), KeyScan::kNoKeys);
  EXPECT_EQ(Failure({"MEMORY", "STATS"}), KeyScan::kNoKeys);
  EXPECT_EQ(Failure({"OBJECT", "NOSUCH", "k"}), KeyScan::kNoKeys);
  EXPECT_EQ(Failure({"OBJECT", "ENCODING"}), KeyScan::kWrongArity);
  EXPECT_EQ(Failure({"OBJECT", "ENCODING", "k", "extra"}), KeyScan::kWrongArity);
  EXPECT_EQ(Failure({"XGROUP", "DESTROY", "k"}), KeyScan::kWrongArity);
  EXPECT_EQ(Failure({"OBJECT"}), KeyScan::kWrongArity);
}

}  // namespace
}  // namespace ringproxy::proxy
