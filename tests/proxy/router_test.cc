// Router: the decision for each command class, with keys on one server and across servers,
// inside and outside MULTI, with and without a WATCH. No loop, no socket: a placement over four
// servers and a session are all a decision needs.
#include "dataplane/router.h"

#include <gtest/gtest.h>

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.h"
#include "dataplane/glob_match.h"
#include "dataplane/key_spec.h"
#include "dataplane/topology.h"

namespace ringproxy::proxy {
namespace {

constexpr size_t kServers = 4;

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string text =
        "pool:\n  listen: 127.0.0.1:22121\n  redis: true\n  hash_tag: \"{}\"\n  servers:\n";
    for (size_t i = 0; i < kServers; ++i) {
      text += "    - 127.0.0.1:" + std::to_string(7000 + i) + ":1 s" + std::to_string(i) + "\n";
    }
    const config::LoadResult loaded = config::LoadConfigString(text, "router_test.yml");
    ASSERT_TRUE(loaded.ok()) << loaded.error.ToString();
    placement_.emplace(BuildPlacement(loaded.config->pools[0], {}));
    // Two keys owned by each server, found by asking the placement.
    for (size_t n = 0; n < 10000; ++n) {
      const std::string key = "key:" + std::to_string(n);
      auto& owned = keys_[placement_->ServerFor(key)];
      if (owned.size() < 2) owned.push_back(key);
    }
    for (const auto& owned : keys_) ASSERT_EQ(owned.size(), 2u);
  }

  // The decision for a command line, in the session as it stands.
  RouteDecision Route(std::initializer_list<std::string_view> line) {
    const std::vector<std::string_view> args(line);
    const RouteContext context{&*placement_, &session_, auth_required_, &pool_, kServers};
    return router_.Route(LookupCommand(args[0]), args, context);
  }

  const std::string& Key(size_t server, size_t n = 0) const { return keys_[server][n]; }

  std::optional<hashing::Placement> placement_;
  std::array<std::vector<std::string>, kServers> keys_;
  ClientSession session_;
  bool auth_required_ = false;
  config::PoolConfig pool_;
  Router router_;
};

TEST_F(RouterTest, SingleKeyCommandsGoToTheServerOfTheirKey) {
  for (size_t s = 0; s < kServers; ++s) {
    const RouteDecision decision = Route({"GET", Key(s)});
    EXPECT_EQ(decision.route, Route::kForward);
    EXPECT_EQ(decision.server, s);
    EXPECT_EQ(decision.command_class, CommandClass::kSingleKey);
  }
}

TEST_F(RouterTest, MultiKeyCommandsRunWhereAllTheirKeysLiveOrAreRefused) {
  const RouteDecision same = Route({"RENAME", Key(2, 0), Key(2, 1)});
  EXPECT_EQ(same.route, Route::kForward);
  EXPECT_EQ(same.server, 2u);
  EXPECT_EQ(same.command_class, CommandClass::kMultiKey);
  const RouteDecision across = Route({"RENAME", Key(0), Key(1)});
  EXPECT_EQ(across.route, Route::kReject);
  EXPECT_TRUE(across.error.starts_with("CROSSSLOT ")) << across.error;
  EXPECT_NE(across.error.find("RENAME"), std::string::npos) << across.error;
  const RouteDecision keyless = Route({"EVAL", "return 1", "0"});
  EXPECT_EQ(keyless.route, Route::kReject);
  EXPECT_NE(keyless.error.find("without keys"), std::string::npos) << keyless.error;
}

TEST_F(RouterTest, ArgumentsRedisRefusesByThemselvesGoToAnyServerForRedissOwnError) {
  // A numkeys that is not the count of the keys after it: every form is one Redis refuses before
  // touching a key, each with its own text and in its own order (EVALSHA's NOSCRIPT first).
  for (const auto& line : {std::vector<std::string_view>{"EVAL", "return 1", "3", "a"},
                           {"EVAL", "return 1", "-1"},
                           {"EVALSHA", "abc", "x", "a"},
                           {"ZUNION", "0", "a"},
                           {"SINTERCARD", "2", "a"},
                           {"LMPOP", "-1", "a", "LEFT"},
                           {"XREAD", "STREAMS", "a", "b", "0"},
                           {"XREAD", "COUNT", "1", "a"}}) {
    const RouteContext context{&*placement_, &session_, false, &pool_, kServers};
    const RouteDecision decision = router_.Route(LookupCommand(line[0]), line, context);
    EXPECT_EQ(decision.route, Route::kAnyServer) << line[0] << " " << line[1];
    EXPECT_EQ(decision.command_class, CommandClass::kMultiKey);
  }
  // A blocking one is refused before it blocks.
  EXPECT_EQ(Route({"BLMPOP", "0", "0", "a", "LEFT"}).route, Route::kAnyServer);
  EXPECT_EQ(Route({"XREAD", "BLOCK", "0", "STREAMS", "a"}).route, Route::kAnyServer);
  // In a transaction, queued where the transaction runs; EXEC's reply holds the error.
  session_.transaction.active = true;
  session_.transaction.server = 2;
  const RouteDecision queued = Route({"ZUNION", "0", "a"});
  EXPECT_EQ(queued.route, Route::kQueue);
  EXPECT_EQ(queued.server, 2u);
  // A wrong arity is still the proxy's to refuse, as Redis refuses it when queueing.
  EXPECT_EQ(Route({"ZUNION"}).route, Route::kQueueReject);
}

TEST_F(RouterTest, SplitCommandsSplitAcrossServersAndForwardWhenTheyNeedNot) {
  const RouteDecision across = Route({"MGET", Key(0), Key(1), Key(0, 1)});
  EXPECT_EQ(across.route, Route::kSplit);
  EXPECT_EQ(across.merge, MergeKind::kArray);
  EXPECT_EQ(across.command_class, CommandClass::kSplitGet);
  EXPECT_EQ(std::vector<uint32_t>(router_.key_servers().begin(), router_.key_servers().end()),
            (std::vector<uint32_t>{0, 1, 0}));
  EXPECT_EQ(router_.split_step(), 1u);
  const RouteDecision mset = Route({"MSET", Key(3), "v", Key(2), "w"});
  EXPECT_EQ(mset.route, Route::kSplit);
  EXPECT_EQ(mset.merge, MergeKind::kAllOk);
  EXPECT_EQ(router_.split_step(), 2u);
  EXPECT_EQ(Route({"DEL", Key(1), Key(2)}).merge, MergeKind::kSum);
  const RouteDecision one = Route({"MGET", Key(1, 0), Key(1, 1)});
  EXPECT_EQ(one.route, Route::kForward);
  EXPECT_EQ(one.server, 1u);
  EXPECT_EQ(Route({"MSET", Key(0), "v", Key(1)}).error,
            "ERR wrong number of arguments for 'mset' command");
}

TEST_F(RouterTest, UnknownWrongArityAndUnsupportedCommandsAreRefusedWithRedisTexts) {
  EXPECT_EQ(Route({"NOSUCH", "a"}).error,
            "ERR unknown command 'NOSUCH', with args beginning with: 'a' ");
  EXPECT_EQ(Route({"GET"}).error, "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(Route({"LASTSAVE"}).error, "ERR LASTSAVE is not supported through the proxy");
  for (const RouteDecision& decision : {Route({"NOSUCH"}), Route({"GET"}), Route({"LASTSAVE"})}) {
    EXPECT_EQ(decision.route, Route::kReject);
    EXPECT_EQ(decision.command_class, CommandClass::kRejected);
  }
}

TEST_F(RouterTest, BeforeAuthOnlyAuthHelloAndQuitPass) {
  auth_required_ = true;
  EXPECT_EQ(Route({"GET", Key(0)}).error, "NOAUTH Authentication required.");
  EXPECT_EQ(Route({"MULTI"}).error, "NOAUTH Authentication required.");
  EXPECT_EQ(Route({"AUTH", "pw"}).route, Route::kLocal);
  EXPECT_EQ(Route({"HELLO", "2", "AUTH", "default", "pw"}).route, Route::kLocal);
  EXPECT_EQ(Route({"QUIT"}).route, Route::kLocal);
}

TEST_F(RouterTest, ScriptSubcommandsFanOutAndUnknownOnesAreRefused) {
  const RouteDecision load = Route({"SCRIPT", "LOAD", "return 1"});
  EXPECT_EQ(load.route, Route::kFanOut);
  EXPECT_EQ(load.merge, MergeKind::kSameReply);
  EXPECT_EQ(load.command_class, CommandClass::kFanOut);
  EXPECT_EQ(Route({"script", "exists", "a", "b"}).merge, MergeKind::kAndArray);
  EXPECT_EQ(Route({"SCRIPT", "KILL"}).merge, MergeKind::kAnyOk);
  EXPECT_EQ(Route({"FUNCTION", "FLUSH"}).merge, MergeKind::kAllOk);
  EXPECT_EQ(Route({"SCRIPT", "DEBUG", "YES"}).error,
            "ERR SCRIPT DEBUG is not supported through the proxy");
  EXPECT_EQ(Route({"SCRIPT", "LOAD"}).error,
            "ERR wrong number of arguments for 'script|load' command");
}

TEST_F(RouterTest, APoolThatRefusesScriptsRefusesThemAndTheirManagementInAndOutOfMulti) {
  EXPECT_EQ(Route({"EVAL", "return 1", "1", Key(0)}).route, Route::kForward);
  pool_.refuse_scripts = true;
  for (const RouteDecision& decision :
       {Route({"EVAL", "return 1", "1", Key(0)}), Route({"evalsha", "abc", "0"}),
        Route({"FCALL", "f", "0"}), Route({"SCRIPT", "KILL"}), Route({"FUNCTION", "FLUSH"})}) {
    EXPECT_EQ(decision.route, Route::kReject);
    EXPECT_NE(decision.error.find("the pool refuses scripts"), std::string::npos) << decision.error;
  }
  session_.transaction.active = true;
  EXPECT_EQ(Route({"EVAL", "return 1", "0"}).route, Route::kQueueReject);
}

TEST_F(RouterTest, StreamReadsRouteByTheirStreamsAndBlockWithBlock) {
  const RouteDecision read = Route(
      {"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", Key(3, 0), Key(3, 1), ">", ">"});
  EXPECT_EQ(read.route, Route::kForward);
  EXPECT_EQ(read.server, 3u);
  EXPECT_TRUE(Route({"XREAD", "STREAMS", Key(0), Key(1), "0", "0"}).error.starts_with("CROSSSLOT"));
  const RouteDecision blocking = Route({"XREAD", "BLOCK", "250", "STREAMS", Key(2), "$"});
  EXPECT_EQ(blocking.route, Route::kBlocking);
  EXPECT_EQ(blocking.server, 2u);
  EXPECT_EQ(blocking.block_timeout_ns, 250'000'000u);  // BLOCK counts milliseconds
  EXPECT_EQ(Route({"XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", Key(1), ">"})
                .block_timeout_ns,
            kBlockForever);
  const RouteDecision across = Route({"XREAD", "BLOCK", "0", "STREAMS", Key(0), Key(1), "$", "$"});
  EXPECT_TRUE(across.error.starts_with("CROSSSLOT")) << across.error;
  EXPECT_NE(across.error.find("XREAD"), std::string::npos) << across.error;
  // A stream named "block" is a stream, not an option.
  EXPECT_EQ(Route({"XREAD", "STREAMS", "block", "0"}).route, Route::kForward);
}

TEST_F(RouterTest, BlockingCommandsGoToTheServerOfTheirKeysWithTheirOwnTimeout) {
  const RouteDecision blpop = Route({"BLPOP", Key(1, 0), Key(1, 1), "1.5"});
  EXPECT_EQ(blpop.route, Route::kBlocking);
  EXPECT_EQ(blpop.server, 1u);
  EXPECT_EQ(blpop.block_timeout_ns, 1'500'000'000u);
  // 0 blocks for ever, as Redis reads it.
  EXPECT_EQ(Route({"BRPOP", Key(2), "0"}).block_timeout_ns, kBlockForever);
  EXPECT_EQ(Route({"BZPOPMIN", Key(2), "0"}).block_timeout_ns, kBlockForever);
  const RouteDecision blmove = Route({"BLMOVE", Key(3, 0), Key(3, 1), "LEFT", "RIGHT", "2"});
  EXPECT_EQ(blmove.route, Route::kBlocking);
  EXPECT_EQ(blmove.block_timeout_ns, 2'000'000'000u);
  // BLMPOP and BZMPOP: the timeout comes first.
  const RouteDecision blmpop = Route({"BLMPOP", "3", "2", Key(0, 0), Key(0, 1), "LEFT"});
  EXPECT_EQ(blmpop.route, Route::kBlocking);
  EXPECT_EQ(blmpop.server, 0u);
  EXPECT_EQ(blmpop.block_timeout_ns, 3'000'000'000u);
  EXPECT_EQ(Route({"BZMPOP", "0", "1", Key(0), "MIN"}).block_timeout_ns, kBlockForever);
  // A timeout Redis refuses at once earns no extra time.
  EXPECT_EQ(Route({"BLPOP", Key(0), "soon"}).block_timeout_ns, 0u);
  EXPECT_EQ(Route({"BLPOP", Key(0), "-1"}).block_timeout_ns, 0u);
  // Keys on several servers: the cross-shard error, naming the command.
  for (const RouteDecision& across :
       {Route({"BLPOP", Key(0), Key(1), "0"}), Route({"BRPOPLPUSH", Key(0), Key(1), "0"}),
        Route({"BZMPOP", "0", "2", Key(2), Key(3), "MAX"})}) {
    EXPECT_EQ(across.route, Route::kReject);
    EXPECT_TRUE(across.error.starts_with("CROSSSLOT")) << across.error;
  }
  EXPECT_NE(Route({"BLPOP", Key(0), Key(1), "0"}).error.find("BLPOP"), std::string::npos);
  // A numkeys Redis refuses before blocking: its own error, from any server.
  EXPECT_EQ(Route({"BLMPOP", "0", "x", Key(0), "LEFT"}).route, Route::kAnyServer);
}

TEST_F(RouterTest, ABlockingCommandRunsBesideAWatchOnItsServerButNotElsewhere) {
  session_.watch_server = 2;
  EXPECT_EQ(Route({"BLPOP", Key(2), "0"}).route, Route::kBlocking);
  const RouteDecision elsewhere = Route({"BLPOP", Key(1), "0"});
  EXPECT_EQ(elsewhere.route, Route::kReject);
  EXPECT_TRUE(elsewhere.error.starts_with("CROSSSLOT")) << elsewhere.error;
  EXPECT_NE(elsewhere.error.find("WATCH"), std::string::npos) << elsewhere.error;
}

TEST_F(RouterTest, InsideMultiBlockingCommandsQueueAsRedisRunsThemWithoutBlocking) {
  session_.transaction.active = true;
  const RouteDecision queued = Route({"BLPOP", Key(3), "0"});
  EXPECT_EQ(queued.route, Route::kQueue);
  EXPECT_EQ(queued.server, 3u);
  EXPECT_EQ(Route({"XREAD", "BLOCK", "0", "STREAMS", Key(3), "$"}).route, Route::kQueue);
  session_.transaction.server = 3;
  EXPECT_EQ(Route({"BRPOP", Key(0), "0"}).route, Route::kQueueReject);
}

TEST_F(RouterTest, TransactionCommandsOutsideMultiAnswerAsRedisDoes) {
  EXPECT_EQ(Route({"MULTI"}).route, Route::kMulti);
  EXPECT_EQ(Route({"EXEC"}).error, "ERR EXEC without MULTI");
  EXPECT_EQ(Route({"DISCARD"}).error, "ERR DISCARD without MULTI");
  EXPECT_EQ(Route({"UNWATCH"}).route, Route::kUnwatch);
  const RouteDecision watch = Route({"WATCH", Key(2, 0), Key(2, 1)});
  EXPECT_EQ(watch.route, Route::kWatch);
  EXPECT_EQ(watch.server, 2u);
  EXPECT_TRUE(Route({"WATCH", Key(0), Key(1)}).error.starts_with("CROSSSLOT"));
  // A second WATCH must stay on the server of the first.
  session_.watch_server = 2;
  EXPECT_EQ(Route({"WATCH", Key(2, 1)}).route, Route::kWatch);
  EXPECT_TRUE(Route({"WATCH", Key(1)}).error.starts_with("CROSSSLOT"));
}

TEST_F(RouterTest, InsideMultiKeyedCommandsQueueForOneServer) {
  session_.transaction.active = true;
  const RouteDecision first = Route({"INCR", Key(1)});
  EXPECT_EQ(first.route, Route::kQueue);
  EXPECT_EQ(first.server, 1u);
  EXPECT_EQ(first.command_class, CommandClass::kTransaction);
  session_.transaction.server = 1;
  EXPECT_EQ(Route({"MGET", Key(1, 0), Key(1, 1)}).route, Route::kQueue);
  // A command whose keys live elsewhere is refused, and dooms the transaction.
  const RouteDecision other = Route({"SET", Key(0), "v"});
  EXPECT_EQ(other.route, Route::kQueueReject);
  EXPECT_TRUE(other.error.starts_with("CROSSSLOT")) << other.error;
  EXPECT_EQ(Route({"MGET", Key(1), Key(3)}).route, Route::kQueueReject);
  // Keyless commands go with the transaction.
  EXPECT_EQ(Route({"PING"}).route, Route::kQueue);
  EXPECT_EQ(Route({"PING"}).server, kNoServerYet);
  EXPECT_EQ(Route({"EVAL", "return 1", "0"}).route, Route::kQueue);
}

TEST_F(RouterTest, InsideMultiRefusalsDoomTheTransactionExceptNestingAndWatch) {
  session_.transaction.active = true;
  for (const RouteDecision& decision :
       {Route({"NOSUCH"}), Route({"GET"}), Route({"KEYS", "*"}), Route({"SELECT", "1"}),
        Route({"SCRIPT", "LOAD", "return 1"}), Route({"MSET", Key(0), "v", Key(0, 1)})}) {
    EXPECT_EQ(decision.route, Route::kQueueReject) << decision.error;
  }
  EXPECT_EQ(Route({"MULTI"}).route, Route::kReject);
  EXPECT_EQ(Route({"MULTI"}).error, "ERR MULTI calls can not be nested");
  EXPECT_EQ(Route({"WATCH", Key(0)}).error, "ERR WATCH inside MULTI is not allowed");
  EXPECT_EQ(Route({"QUIT"}).route, Route::kLocal);  // at once, as in Redis
}

TEST_F(RouterTest, ExecRunsWhereTheKeysOrTheWatchAreAndAbortsAfterARefusal) {
  session_.transaction.active = true;
  session_.transaction.server = 3;
  EXPECT_EQ(Route({"EXEC"}).route, Route::kExec);
  EXPECT_EQ(Route({"EXEC"}).server, 3u);
  session_.transaction.server = kNoServerYet;
  session_.watch_server = 2;
  EXPECT_EQ(Route({"EXEC"}).server, 2u);
  // Queued commands must agree with the WATCH's server.
  EXPECT_EQ(Route({"SET", Key(2), "v"}).route, Route::kQueue);
  EXPECT_EQ(Route({"SET", Key(1), "v"}).route, Route::kQueueReject);
  session_.transaction.failed = true;
  EXPECT_EQ(Route({"EXEC"}).route, Route::kExecAbort);
  EXPECT_EQ(Route({"EXEC"}).error, "EXECABORT Transaction discarded because of previous errors.");
  EXPECT_EQ(Route({"DISCARD"}).route, Route::kDiscard);
}

TEST_F(RouterTest, ExecWithArgumentsInsideMultiAbortsTheTransactionAtOnceAsRedisDoes) {
  session_.transaction.active = true;
  session_.transaction.server = 1;
  const RouteDecision decision = Route({"EXEC", "now"});
  EXPECT_EQ(decision.route, Route::kExecAbort);
  EXPECT_EQ(decision.error,
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
            "command");
  // Other refusals only doom the transaction, which goes on queueing.
  EXPECT_EQ(Route({"DISCARD", "now"}).route, Route::kQueueReject);
  EXPECT_EQ(Route({"MULTI", "now"}).route, Route::kQueueReject);
  session_.transaction.active = false;
  EXPECT_EQ(Route({"EXEC", "now"}).route, Route::kReject);
}

TEST_F(RouterTest, ScanDecodesTheServerAndItsCursorFromTheClientsCursor) {
  // client cursor = server cursor * 4 + server index
  const RouteDecision start = Route({"SCAN", "0"});
  EXPECT_EQ(start.route, Route::kScan);
  EXPECT_EQ(start.server, 0u);
  EXPECT_EQ(start.cursor, 0u);
  EXPECT_EQ(start.merge, MergeKind::kScan);
  const RouteDecision later = Route({"scan", "4099", "MATCH", "a*", "COUNT", "5", "TYPE", "hash"});
  EXPECT_EQ(later.route, Route::kScan);
  EXPECT_EQ(later.server, 3u);
  EXPECT_EQ(later.cursor, 1024u);
  const RouteDecision last = Route({"SCAN", "18446744073709551615"});
  EXPECT_EQ(last.server, 3u);
  EXPECT_EQ(last.cursor, 4611686018427387903u);
  for (const std::string_view invalid : {"x", "1x", " 1", "18446744073709551616", "-", "1.0"}) {
    const RouteDecision decision = Route({"SCAN", invalid});
    EXPECT_EQ(decision.route, Route::kReject) << invalid;
    EXPECT_EQ(decision.error, "ERR invalid cursor") << invalid;
  }
  EXPECT_EQ(Route({"SCAN"}).error, "ERR wrong number of arguments for 'scan' command");
}

TEST_F(RouterTest, KeyspaceCommandsGoToEveryConfiguredServer) {
  const struct {
    std::string_view command;
    MergeKind merge;
  } cases[] = {{"DBSIZE", MergeKind::kSum},
               {"KEYS", MergeKind::kConcat},
               {"RANDOMKEY", MergeKind::kRandomNonNull}};
  for (const auto& c : cases) {
    const RouteDecision decision =
        c.command == "KEYS" ? Route({c.command, "user:*"}) : Route({c.command});
    EXPECT_EQ(decision.route, Route::kFanOut) << c.command;
    EXPECT_TRUE(decision.every_server) << c.command;
    EXPECT_EQ(decision.merge, c.merge) << c.command;
    EXPECT_EQ(decision.command_class, CommandClass::kFanOut) << c.command;
  }
  EXPECT_EQ(Route({"DBSIZE", "x"}).route, Route::kReject);
  EXPECT_EQ(Route({"KEYS"}).route, Route::kReject);
}

TEST_F(RouterTest, FlushIsRefusedUnlessThePoolAllowsIt) {
  for (const auto& line : {std::vector<std::string_view>{"FLUSHDB"},
                           std::vector<std::string_view>{"flushall", "ASYNC"}}) {
    const RouteContext context{&*placement_, &session_, false, &pool_, kServers};
    const RouteDecision refused = router_.Route(LookupCommand(line[0]), line, context);
    EXPECT_EQ(refused.route, Route::kReject);
    EXPECT_NE(refused.error.find("is refused through this proxy"), std::string::npos);
    EXPECT_NE(refused.error.find("allow_flush"), std::string::npos);
    // No pool configuration at all allows nothing either.
    const RouteContext bare{&*placement_, &session_, false, nullptr, kServers};
    EXPECT_EQ(router_.Route(LookupCommand(line[0]), line, bare).route, Route::kReject);
  }
  pool_.allow_flush = true;
  const RouteDecision allowed = Route({"FLUSHALL", "SYNC"});
  EXPECT_EQ(allowed.route, Route::kFanOut);
  EXPECT_TRUE(allowed.every_server);
  EXPECT_EQ(allowed.merge, MergeKind::kAllOk);
}

TEST_F(RouterTest, WaitBlocksOnTheUsualConnectionToTheServerOfTheLastKeyedCommand) {
  // No keyed command yet: any live server, on a connection of the client's own.
  const RouteDecision first = Route({"WAIT", "1", "0"});
  EXPECT_EQ(first.route, Route::kBlocking);
  EXPECT_EQ(first.server, kNoServerYet);
  EXPECT_FALSE(first.takes_usual_connection);
  EXPECT_EQ(first.block_timeout_ns, kBlockForever);
  session_.last_server = 2;
  // The connection that carried the client's writes, taken from the others while WAIT blocks;
  // its timeout is in milliseconds.
  const RouteDecision decision = Route({"WAIT", "1", "100"});
  EXPECT_EQ(decision.route, Route::kBlocking);
  EXPECT_EQ(decision.server, 2u);
  EXPECT_TRUE(decision.takes_usual_connection);
  EXPECT_EQ(decision.block_timeout_ns, 100'000'000u);
  EXPECT_EQ(decision.command_class, CommandClass::kFanOut);
  // One Redis refuses at once gets no extra time.
  EXPECT_EQ(Route({"WAIT", "1", "-1"}).block_timeout_ns, 0u);
  EXPECT_EQ(Route({"WAIT", "1", "soon"}).block_timeout_ns, 0u);
  // A server index the pool no longer has (its server list shrank): any server.
  session_.last_server = kServers;
  const RouteDecision shrunk = Route({"WAIT", "1", "0"});
  EXPECT_EQ(shrunk.server, kNoServerYet);
  EXPECT_FALSE(shrunk.takes_usual_connection);
  EXPECT_EQ(Route({"WAIT", "1"}).route, Route::kReject);
  // WAITAOF, learned from servers that know it (Redis 7.2), goes the same way.
  session_.last_server = 1;
  CommandSpec waitaof{};
  waitaof.name = "waitaof";
  waitaof.arity = 4;
  waitaof.kind = CommandKind::kMultiKey;
  waitaof.key_pattern = KeyPattern::kKeySpecs;
  const std::vector<std::string_view> args = {"WAITAOF", "1", "0", "250"};
  const RouteContext context{&*placement_, &session_, false, &pool_, kServers};
  const RouteDecision learned = router_.Route(&waitaof, args, context);
  EXPECT_EQ(learned.route, Route::kBlocking);
  EXPECT_EQ(learned.server, 1u);
  EXPECT_TRUE(learned.takes_usual_connection);
  EXPECT_EQ(learned.block_timeout_ns, 250'000'000u);
}

TEST_F(RouterTest, KeyspaceCommandsInsideMultiDoomTheTransaction) {
  session_.transaction.active = true;
  for (const std::string_view command : {"DBSIZE", "RANDOMKEY"}) {
    const RouteDecision decision = Route({command});
    EXPECT_EQ(decision.route, Route::kQueueReject) << command;
  }
  EXPECT_EQ(Route({"SCAN", "0"}).route, Route::kQueueReject);
  EXPECT_EQ(Route({"WAIT", "0", "0"}).route, Route::kQueueReject);
}

}  // namespace
}  // namespace ringproxy::proxy

namespace ringproxy::proxy {
namespace {

TEST_F(RouterTest, PublishAndSpublishGoToTheServerTheirChannelHashesTo) {
  for (size_t s = 0; s < kServers; ++s) {
    for (const std::string_view command : {"PUBLISH", "SPUBLISH"}) {
      const RouteDecision decision = Route({command, Key(s), "message"});
      EXPECT_EQ(decision.route, Route::kPubSub);
      EXPECT_EQ(decision.server, s);
    }
  }
  // Hash tags apply: a channel with a key's tag meets that key's server.
  const std::string tagged = "news{" + Key(3) + "}";
  EXPECT_EQ(Route({"PUBLISH", tagged, "m"}).server, 3u);
  EXPECT_EQ(Route({"SUBSCRIBE", "a", "b"}).route, Route::kPubSub);
  EXPECT_EQ(Route({"SUBSCRIBE"}).error, "ERR wrong number of arguments for 'subscribe' command");
}

TEST_F(RouterTest, Resp2SubscribedModeAllowsOnlyWhatRedisAllows) {
  session_.subscriptions = 1;
  for (const std::string_view command :
       {"SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE", "SUNSUBSCRIBE"}) {
    EXPECT_EQ(Route({command, "x"}).route, Route::kPubSub) << command;
  }
  EXPECT_EQ(Route({"PING"}).route, Route::kLocal);
  EXPECT_EQ(Route({"QUIT"}).route, Route::kLocal);
  EXPECT_EQ(Route({"RESET"}).route, Route::kPubSub);
  EXPECT_EQ(Route({"GET", Key(0)}).error,
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
            "RESET are allowed in this context");
  EXPECT_EQ(Route({"PUBLISH", "c", "m"}).route, Route::kReject);
  EXPECT_EQ(Route({"CLIENT", "LIST"}).error,
            "ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
            "QUIT / RESET are allowed in this context");
  // Unknown commands and wrong arities are refused as such first, as by Redis.
  EXPECT_TRUE(Route({"NOSUCH"}).error.starts_with("ERR unknown command"));
  // RESP3 clients may run anything while subscribed.
  session_.protocol = Protocol::kResp3;
  EXPECT_EQ(Route({"GET", Key(1)}).route, Route::kForward);
}

TEST_F(RouterTest, InsideMultiPublishQueuesForItsChannelsServerAndSubscribeIsRefused) {
  session_.transaction.active = true;
  const RouteDecision publish = Route({"PUBLISH", Key(2), "m"});
  EXPECT_EQ(publish.route, Route::kQueue);
  EXPECT_EQ(publish.server, 2u);
  EXPECT_EQ(Route({"SUBSCRIBE", "a"}).route, Route::kQueueReject);
  EXPECT_EQ(Route({"RESET"}).route, Route::kPubSub);
}

TEST(GlobMatch, FollowsRedisStringmatch) {
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_FALSE(GlobMatch("*", ""));  // as Redis: an empty text matches only an empty pattern
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_TRUE(GlobMatch("news.*", "news.sport"));
  EXPECT_FALSE(GlobMatch("news.*", "weather"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_FALSE(GlobMatch("h?llo", "hllo"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("*evt", "3:evt"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXbY"));
}

}  // namespace
}  // namespace ringproxy::proxy
