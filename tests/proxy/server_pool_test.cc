// ServerPool and Server over a WorkerContext of the test's own, with no loop running: which server
// a key goes to, ejection and its end, failures and what resets them, requests to a server that
// does not resolve, pins and their limit. And, through a Worker that is never started, how a
// fragment's reply settles its request.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_loader.h"
#include "dataplane/client_admission.h"
#include "dataplane/request.h"
#include "dataplane/server.h"
#include "dataplane/server_connection.h"
#include "dataplane/server_pool.h"
#include "dataplane/topology.h"
#include "dataplane/worker.h"
#include "dataplane/worker_context.h"
#include "stats/stats.h"

namespace ringproxy::proxy {
namespace {

constexpr uint64_t kNanosPerMilli = 1000000;

// Replies settled through the context, in order, with the fragment's index.
std::vector<std::pair<uint32_t, std::string>>* settled = nullptr;

void RecordSettled(WorkerContext* context, Fragment* fragment, std::string_view reply) {
  settled->emplace_back(fragment->index, std::string(reply));
  context->FreeFragment(fragment);
}

class NoClients : public ClientRegistry {
 public:
  void OnClientClosed(ClientConnection* /*client*/) override {}
  void WaitForLearning(ClientConnection* /*client*/) override {}
};

// Three servers on loopback ports nothing listens on (no connection is ever made: the loop never
// runs), and a fourth, unresolved, when asked.
std::shared_ptr<const Topology> MakeTopology(const std::string& pool_keys,
                                             bool with_unresolved = false) {
  std::string yaml =
      "alpha:\n"
      "  listen: 127.0.0.1:22199\n"  // never opened: the pool is given no listener
      "  redis: true\n"
      "  distribution: ketama\n"
      "  hash: fnv1a_64\n" +
      pool_keys +
      "  servers:\n"
      "    - 127.0.0.1:1:1 s0\n"
      "    - 127.0.0.1:2:1 s1\n"
      "    - 127.0.0.1:3:1 s2\n";
  if (with_unresolved) yaml += "    - 127.0.0.1:4:1 s3\n";
  const config::LoadResult loaded = config::LoadConfigString(yaml, "test.yml");
  EXPECT_TRUE(loaded.ok()) << loaded.error.message;
  std::string error;
  std::shared_ptr<const Topology> built = Topology::Build(*loaded.config, &error);
  EXPECT_NE(built, nullptr) << error;
  if (!with_unresolved) return built;
  auto topology = std::make_shared<Topology>(*built);
  topology->pools[0].server_addresses[3] = SocketAddress{};  // the name does not resolve
  return topology;
}

class ServerPoolTest : public ::testing::Test {
 protected:
  void Build(const std::string& pool_keys, bool with_unresolved = false) {
    settled = &replies_;
    topology_ = MakeTopology(pool_keys, with_unresolved);
    settings_.on_server_failure = [this](const std::string& pool, const std::string& server) {
      reported_.push_back(pool + "/" + server);
    };
    context_ = std::make_unique<WorkerContext>(0, settings_, &stats_, &admission_, &RecordSettled,
                                               &no_clients_);
    pool_ = std::make_unique<ServerPool>(context_.get(), topology_, &topology_->pools[0]);
  }

  void TearDown() override {
    if (pool_ != nullptr) {
      pool_->CloseAll();
      // The closed connections free themselves in their close callbacks.
      uv_run(context_->loop(), UV_RUN_DEFAULT);
    }
    pool_.reset();
    context_.reset();
    settled = nullptr;
  }

  // The server indices keys 0..n-1 go to.
  std::vector<uint32_t> Routes(int n) {
    std::vector<uint32_t> routes;
    for (int i = 0; i < n; ++i) {
      Server* server = pool_->ServerForKey("key:" + std::to_string(i));
      routes.push_back(server == nullptr ? UINT32_MAX : pool_->IndexOf(server));
    }
    return routes;
  }

  void Fail(uint32_t server, int times) {
    for (int i = 0; i < times; ++i)
      pool_->server(server).OnConnectionClosed(nullptr, UV_ECONNREFUSED);
  }

  WorkerSettings settings_;
  StatsRegistry stats_;
  ClientAdmission admission_;
  NoClients no_clients_;
  std::shared_ptr<const Topology> topology_;
  std::unique_ptr<WorkerContext> context_;
  std::unique_ptr<ServerPool> pool_;
  std::vector<std::pair<uint32_t, std::string>> replies_;
  std::vector<std::string> reported_;
};

TEST_F(ServerPoolTest, EachKeyGoesToTheServerThePlacementNames) {
  Build("");
  const hashing::Placement& placement = topology_->pools[0].placement;
  std::vector<int> per_server(3);
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const uint32_t expected = placement.ServerFor(key);
    ASSERT_EQ(pool_->ServerForKey(key), &pool_->server(expected)) << key;
    ++per_server[expected];
  }
  for (const int count : per_server) EXPECT_GT(count, 0);
  EXPECT_EQ(pool_->LiveServers(), (std::vector<uint32_t>{0, 1, 2}));
}

TEST_F(ServerPoolTest, AServerFailingTheLimitIsEjectedUntilItsRetryTimeoutPasses) {
  Build(
      "  auto_eject_hosts: true\n"
      "  server_failure_limit: 2\n"
      "  server_retry_timeout: 1000\n");
  const std::vector<uint32_t> before = Routes(1000);
  Fail(1, 1);
  EXPECT_FALSE(pool_->server(1).ejected());
  Fail(1, 1);
  ASSERT_TRUE(pool_->server(1).ejected());
  EXPECT_EQ(pool_->stats().server_ejects.Get(), 1);
  EXPECT_EQ(pool_->LiveServers(), (std::vector<uint32_t>{0, 2}));
  const std::vector<uint32_t> during = Routes(1000);
  for (size_t i = 0; i < during.size(); ++i) {
    EXPECT_NE(during[i], 1u) << "key:" << i;
    // Keys of the live servers stay where they were (ketama).
    if (before[i] != 1) {
      EXPECT_EQ(during[i], before[i]) << "key:" << i;
    }
  }
  // Still ejected just before the timeout; back after it, every key where it was.
  pool_->Tick(context_->now_ns() + 999 * kNanosPerMilli);
  EXPECT_TRUE(pool_->server(1).ejected());
  pool_->Tick(context_->now_ns() + 1001 * kNanosPerMilli);
  EXPECT_FALSE(pool_->server(1).ejected());
  EXPECT_EQ(Routes(1000), before);
}

TEST_F(ServerPoolTest, WithoutAutoEjectHostsAFailingServerKeepsItsKeys) {
  Build("  server_failure_limit: 1\n");
  const std::vector<uint32_t> before = Routes(200);
  Fail(2, 5);
  EXPECT_FALSE(pool_->server(2).ejected());
  EXPECT_EQ(Routes(200), before);
  EXPECT_EQ(pool_->stats().server_ejects.Get(), 0);
}

TEST_F(ServerPoolTest, AReplyThatSaysTheServerWorksStartsTheFailureCountAgain) {
  Build(
      "  auto_eject_hosts: true\n"
      "  server_failure_limit: 3\n");
  Server& server = pool_->server(0);
  Fail(0, 2);
  server.OnResponse("$1\r\nx\r\n");
  Fail(0, 2);
  EXPECT_FALSE(server.ejected());
  // An error that is the command's, not the server's, also says it works.
  server.OnResponse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  Fail(0, 2);
  EXPECT_FALSE(server.ejected());
  Fail(0, 1);
  EXPECT_TRUE(server.ejected());
}

TEST_F(ServerPoolTest, RepliesThatSayTheServerCannotServeCountAsFailures) {
  Build(
      "  auto_eject_hosts: true\n"
      "  server_failure_limit: 3\n");
  Server& server = pool_->server(0);
  server.OnResponse("-LOADING Redis is loading the dataset in memory\r\n");
  server.OnResponse("-BUSY Redis is busy running a script.\r\n");
  EXPECT_FALSE(server.ejected());
  server.OnResponse("-OOM command not allowed when used memory > 'maxmemory'.\r\n");
  EXPECT_TRUE(server.ejected());
}

TEST_F(ServerPoolTest, AConnectionLostToAnErrorIsReportedSoTheNameIsLookedUpAgain) {
  Build("");
  pool_->server(2).OnConnectionClosed(nullptr, UV_ECONNRESET);
  // A connection closed on purpose (retired, unpinned) is no failure.
  pool_->server(1).OnConnectionClosed(nullptr, 0);
  EXPECT_EQ(reported_, (std::vector<std::string>{"alpha/s2"}));
}

TEST_F(ServerPoolTest, ARequestToAServerThatDoesNotResolveFailsAtOnceAsNutcrackerFailsIt) {
  Build("", /*with_unresolved=*/true);
  Server& server = pool_->server(3);
  ASSERT_FALSE(server.resolved());
  Fragment* fragment = context_->NewFragment();
  fragment->index = 7;
  server.Send(fragment, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", /*affinity=*/1, Protocol::kResp2);
  ASSERT_EQ(replies_.size(), 1u);
  EXPECT_EQ(replies_[0], (std::pair<uint32_t, std::string>{7, "-ERR Host is down\r\n"}));
  EXPECT_EQ(pool_->stats().forward_error.Get(), 1);
  EXPECT_EQ(server.stats().requests.Get(), 1);
  // Nor can it be pinned.
  Server::PinRefusal refused = Server::PinRefusal::kNone;
  EXPECT_EQ(server.Pin(nullptr, Protocol::kResp2, &refused), nullptr);
  EXPECT_EQ(refused, Server::PinRefusal::kUnreachable);
}

TEST_F(ServerPoolTest, PinsStopAtMaxPinnedConnectionsAndAnUnpinFreesTheSlot) {
  Build("  max_pinned_connections: 2\n");
  Server& server = pool_->server(0);
  Server::PinRefusal refused = Server::PinRefusal::kNone;
  ServerConnection* first = server.Pin(nullptr, Protocol::kResp2, &refused);
  ServerConnection* second = server.Pin(nullptr, Protocol::kResp2, &refused);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first, second);
  EXPECT_EQ(server.stats().pinned_connections.Get(), 2);
  EXPECT_EQ(server.Pin(nullptr, Protocol::kResp2, &refused), nullptr);
  EXPECT_EQ(refused, Server::PinRefusal::kLimit);
  // Another server has slots of its own.
  EXPECT_NE(pool_->server(1).Pin(nullptr, Protocol::kResp2, &refused), nullptr);
  // A clean connection unpinned is kept, and the next pin takes it again.
  server.Unpin(first, /*reusable=*/true);
  EXPECT_EQ(server.stats().pinned_connections.Get(), 1);
  EXPECT_EQ(server.Pin(nullptr, Protocol::kResp2, &refused), first);
  // An idle connection speaks the protocol of its last client: only a client of that protocol
  // takes it again.
  server.Unpin(first, /*reusable=*/true);
  ServerConnection* resp3 = server.Pin(nullptr, Protocol::kResp3, &refused);
  ASSERT_NE(resp3, nullptr);
  EXPECT_NE(resp3, first);
  EXPECT_EQ(resp3->protocol(), Protocol::kResp3);
  EXPECT_EQ(first->protocol(), Protocol::kResp2);
}

TEST_F(ServerPoolTest, AConnectionUnpinnedAfterAMoveOrARemovalIsNotKeptForTheNextPin) {
  Build("");
  Server& server = pool_->server(0);
  Server::PinRefusal refused = Server::PinRefusal::kNone;
  ServerConnection* before_move = server.Pin(nullptr, Protocol::kResp2, &refused);
  ASSERT_NE(before_move, nullptr);
  // The pod moved while a client held the connection: once let go, it leads nowhere useful.
  const SocketAddress moved = pool_->server(1).address();
  server.Update(server.config(), moved);
  server.Unpin(before_move, /*reusable=*/true);
  ServerConnection* after_move = server.Pin(nullptr, Protocol::kResp2, &refused);
  ASSERT_NE(after_move, nullptr);
  EXPECT_NE(after_move, before_move);
  EXPECT_EQ(after_move->address(), moved);
  // A server that left the pool keeps nothing once its last holder lets go.
  server.Retire();
  server.Unpin(after_move, /*reusable=*/true);
  uv_run(context_->loop(), UV_RUN_DEFAULT);
  EXPECT_TRUE(server.Quiet());
}

TEST_F(ServerPoolTest, APinOfTheUsualConnectionTakesItFromTheOtherClientsWhoGetANewOne) {
  Build("");
  Server& server = pool_->server(0);
  constexpr std::string_view kGet = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  constexpr uint64_t kClient = 7;
  // The client's writes went out on the shared connection of its slot (still connecting here:
  // nothing listens, and the loop does not run).
  server.Send(context_->NewFragment(), kGet, kClient, Protocol::kResp2);
  Server::PinRefusal refused = Server::PinRefusal::kNone;
  ServerConnection* usual = server.Pin(nullptr, Protocol::kResp2, &refused, kClient);
  ASSERT_NE(usual, nullptr);
  EXPECT_EQ(usual->queued(), 1u);  // the very connection that carries the client's request
  EXPECT_EQ(server.stats().pinned_connections.Get(), 1);
  // Let go before anyone filled its slot: it is that slot's shared connection again, rather than
  // a new one for the next request.
  server.Unpin(usual, /*reusable=*/true, kClient);
  EXPECT_EQ(server.stats().pinned_connections.Get(), 0);
  server.Send(context_->NewFragment(), kGet, kClient, Protocol::kResp2);
  EXPECT_EQ(usual->queued(), 2u);
  // Taken again, the next request of that slot opens another connection rather than wait
  // behind the pin; let go then, it waits for the next pin instead.
  ASSERT_EQ(server.Pin(nullptr, Protocol::kResp2, &refused, kClient), usual);
  server.Send(context_->NewFragment(), kGet, kClient, Protocol::kResp2);
  EXPECT_EQ(usual->queued(), 2u);
  server.Unpin(usual, /*reusable=*/true, kClient);
  // The other protocol's slot has no connection to take: a connection of its own.
  ServerConnection* fresh = server.Pin(nullptr, Protocol::kResp3, &refused, kClient);
  ASSERT_NE(fresh, nullptr);
  EXPECT_NE(fresh, usual);
  EXPECT_EQ(fresh->protocol(), Protocol::kResp3);
  EXPECT_EQ(server.Pin(nullptr, Protocol::kResp2, &refused), usual);
}

// --- how a reply settles its request (the Worker's settler), with no client involved ----------

class SettleTest : public ::testing::Test {
 protected:
  SettleTest()
      : topology_(MakeTopology("")),
        worker_(0, topology_, WorkerSettings{}, 1, &stats_, &admission_) {}

  StatsRegistry stats_;
  ClientAdmission admission_;
  std::shared_ptr<const Topology> topology_;
  Worker worker_;
};

TEST_F(SettleTest, ARequestWhoseClientHasGoneLivesUntilItsLastFragmentThenIsFreed) {
  Request* request = worker_.NewRequest();
  request->BeginSplit(MergeKind::kSum, 2);
  Fragment* first = worker_.NewFragment();
  first->request = request;
  first->index = 0;
  Fragment* second = worker_.NewFragment();
  second->request = request;
  second->index = 1;
  worker_.CompleteFragment(first, ":1\r\n");
  EXPECT_EQ(request->pending, 1u);
  worker_.CompleteFragment(second, ":2\r\n");
  // Freed: the free list hands the same request out again, fresh.
  Request* next = worker_.NewRequest();
  EXPECT_EQ(next, request);
  EXPECT_EQ(next->pending, 0u);
  EXPECT_TRUE(next->fragment_replies.empty());
  worker_.FreeRequest(next);
}

TEST_F(SettleTest, TheRepliesOfQuietAndHandshakeFragmentsSettleNoRequest) {
  Request* request = worker_.NewRequest();
  request->pending = 1;
  for (const FragmentKind kind : {FragmentKind::kQuiet, FragmentKind::kHandshake}) {
    Fragment* fragment = worker_.NewFragment();
    fragment->kind = kind;
    fragment->request = request;
    worker_.CompleteFragment(fragment, "+QUEUED\r\n");
  }
  EXPECT_EQ(request->pending, 1u);
  EXPECT_FALSE(request->done);
  worker_.FreeRequest(request);
}

TEST_F(SettleTest, TheServersAnswersToCommandInfoTeachTheirPoolTheCommand) {
  // One worker's pools are reached through the topology it was built with; a learning request
  // names its pool itself.
  auto pool = std::make_unique<ServerPool>(&worker_, topology_, &topology_->pools[0]);
  ASSERT_EQ(pool->learned().Find("mycmd", 0).state, LearnedCommands::State::kAsk);
  ASSERT_TRUE(pool->learned().BeginLearning("mycmd"));
  Request* request = worker_.NewRequest();
  request->learning_pool = pool.get();
  request->BeginSplit(MergeKind::kLearn, 2);
  request->fragment_replies.back() = "mycmd";
  // COMMAND INFO mycmd as redis-server 7.0 answers it for a command of arity 2, key at 1.
  const std::string described =
      "*1\r\n*10\r\n$5\r\nmycmd\r\n:2\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*0\r\n"
      "*0\r\n";
  for (uint32_t f = 0; f < 2; ++f) {
    Fragment* fragment = worker_.NewFragment();
    fragment->request = request;
    fragment->index = f;
    worker_.CompleteFragment(fragment, f == 0 ? std::string_view("*1\r\n*-1\r\n") : described);
  }
  const LearnedCommands::Lookup lookup = pool->learned().Find("mycmd", 0);
  ASSERT_EQ(lookup.state, LearnedCommands::State::kKnown);
  EXPECT_EQ(lookup.spec->first_key, 1);
  pool->CloseAll();
}

}  // namespace
}  // namespace ringproxy::proxy
