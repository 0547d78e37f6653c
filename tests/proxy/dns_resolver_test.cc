#include "net/dns_resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/proxy/dns_test_message.h"

namespace ringproxy::proxy {
namespace {

using testing::AaaaRecord;
using testing::ARecord;
using testing::CnameRecord;
using testing::DnsRecord;
using testing::kTypeA;
using testing::kTypeAaaa;
using testing::kTypeSrv;
using testing::SrvRecord;

// A DNS server on the test's own loop (127.0.0.1, a port the kernel picks): answers with the
// records a test sets, NXDOMAIN for unknown names, and not at all for silenced names.
class FakeDnsServer {
 public:
  explicit FakeDnsServer(uv_loop_t* loop) : udp_(new uv_udp_t) {
    uv_udp_init(loop, udp_);
    udp_->data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    EXPECT_EQ(uv_udp_bind(udp_, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
    sockaddr_in bound{};
    int length = sizeof(bound);
    uv_udp_getsockname(udp_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = ntohs(bound.sin_port);
    uv_udp_recv_start(udp_, &FakeDnsServer::Alloc, &FakeDnsServer::OnRecv);
  }

  ~FakeDnsServer() {
    uv_close(reinterpret_cast<uv_handle_t*>(udp_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_udp_t*>(handle); });
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_; }

  void Answer(const std::string& name, uint16_t type, std::vector<DnsRecord> records) {
    records_[{name, type}] = std::move(records);
    names_.insert(name);
  }
  void Silence(const std::string& name) { silent_.insert(name); }

 private:
  static void Alloc(uv_handle_t* /*handle*/, size_t /*suggested*/, uv_buf_t* buf) {
    static char buffer[4096];
    *buf = uv_buf_init(buffer, sizeof(buffer));
  }

  static void OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                     unsigned /*flags*/) {
    if (nread < 12 || from == nullptr) {
      return;
    }
    static_cast<FakeDnsServer*>(handle->data)
        ->Reply(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread), from);
  }

  void Reply(const uint8_t* query, size_t length, const sockaddr* from) {
    ++queries_;
    const uint16_t id = static_cast<uint16_t>((query[0] << 8) | query[1]);
    std::string name;
    size_t at = 12;
    while (at < length && query[at] != 0) {
      if (!name.empty()) {
        name += '.';
      }
      name.append(reinterpret_cast<const char*>(query + at + 1), query[at]);
      at += 1 + query[at];
    }
    if (at + 5 > length) {
      return;
    }
    const uint16_t type = static_cast<uint16_t>((query[at + 1] << 8) | query[at + 2]);
    if (silent_.count(name) != 0) {
      return;
    }
    std::vector<DnsRecord> answers;
    uint16_t rcode = testing::kRcodeNxdomain;
    if (names_.count(name) != 0) {
      rcode = 0;  // the name exists: NODATA unless it has records of this type
      auto it = records_.find({name, type});
      if (it != records_.end()) {
        answers = it->second;
      }
    }
    std::vector<uint8_t> response = testing::BuildResponse(id, name, type, rcode, answers);
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(response.data()),
                               static_cast<unsigned>(response.size()));
    uv_udp_try_send(udp_, &buf, 1, from);
  }

  uv_udp_t* udp_;
  uint16_t port_ = 0;
  int queries_ = 0;
  std::map<std::pair<std::string, uint16_t>, std::vector<DnsRecord>> records_;
  std::set<std::string> names_;
  std::set<std::string> silent_;
};

std::string AddressText(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
  inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

std::multiset<std::string> Addresses(const DnsAnswer& answer) {
  std::multiset<std::string> out;
  for (const SocketAddress& address : answer.addresses) {
    out.insert(AddressText(address));
  }
  return out;
}

class DnsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    // No search list, ndots 1: the names below are asked as they are, whatever the machine's
    // /etc/resolv.conf says.
    char path[] = "/tmp/dns_resolver_test_XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const std::string text = "options ndots:1\n";
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    resolv_conf_ = path;
    server_ = std::make_unique<FakeDnsServer>(&loop_);
  }

  void TearDown() override {
    resolver_.reset();
    server_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle the resolver opened has been closed and freed.
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    unlink(resolv_conf_.c_str());
  }

  DnsOptions Options(int timeout_ms = 1000, int tries = 2) const {
    DnsOptions options;
    options.servers = {server_->address()};
    options.resolv_conf = resolv_conf_;
    options.timeout_ms = timeout_ms;
    options.tries = tries;
    return options;
  }

  void MakeResolver(const DnsOptions& options) {
    std::string error;
    resolver_ = DnsResolver::Create(&loop_, options, &error);
    ASSERT_NE(resolver_, nullptr) << error;
  }

  // Runs the loop until `done` holds or `timeout_ms` pass; a ticking timer keeps the loop from
  // sleeping forever when nothing else happens.
  bool RunUntil(const std::function<bool()>& done, uint64_t timeout_ms = 5000) {
    uv_timer_t tick;
    uv_timer_init(&loop_, &tick);
    uv_timer_start(
        &tick, [](uv_timer_t*) {}, 5, 5);
    const uint64_t deadline = uv_now(&loop_) + timeout_ms;
    while (!done() && uv_now(&loop_) < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return done();
  }

  uv_loop_t loop_{};
  std::string resolv_conf_;
  std::unique_ptr<FakeDnsServer> server_;
  std::unique_ptr<DnsResolver> resolver_;
};

TEST_F(DnsResolverTest, LiteralAddressesAreAnsweredLaterWithInfiniteTtl) {
  MakeResolver(Options());
  std::vector<DnsAnswer> answers;
  ASSERT_TRUE(
      resolver_->Resolve("10.1.2.3", 6379, [&](const DnsAnswer& a) { answers.push_back(a); }));
  ASSERT_TRUE(resolver_->Resolve("[::1]", 7000, [&](const DnsAnswer& a) { answers.push_back(a); }));
  EXPECT_TRUE(answers.empty());  // never from inside Resolve()
  ASSERT_TRUE(RunUntil([&] { return answers.size() == 2; }));
  EXPECT_EQ(answers[0].status, ARES_SUCCESS);
  EXPECT_EQ(Addresses(answers[0]), std::multiset<std::string>{"10.1.2.3:6379"});
  EXPECT_EQ(answers[0].ttl_seconds, kDnsTtlInfinite);
  EXPECT_EQ(Addresses(answers[1]), std::multiset<std::string>{"[::1]:7000"});
  EXPECT_EQ(answers[1].ttl_seconds, kDnsTtlInfinite);
  EXPECT_EQ(server_->queries(), 0);
}

TEST_F(DnsResolverTest, HostsFileAnswerIsNotDeliveredFromInsideResolve) {
  // c-ares answers "localhost" without a query, inside ares_getaddrinfo().
  MakeResolver(Options());
  bool called = false;
  DnsAnswer answer;
  resolver_->Resolve("localhost", 1, [&](const DnsAnswer& a) {
    called = true;
    answer = a;
  });
  EXPECT_FALSE(called);
  ASSERT_TRUE(RunUntil([&] { return called; }));
  EXPECT_EQ(answer.status, ARES_SUCCESS);
  EXPECT_FALSE(answer.addresses.empty());
  EXPECT_EQ(server_->queries(), 0);
}

TEST_F(DnsResolverTest, AnswerTtlIsTheMinimumOverBothFamilies) {
  server_->Answer(
      "redis-0.test", kTypeA,
      {ARecord("redis-0.test", "127.0.0.2", 30), ARecord("redis-0.test", "127.0.0.4", 90)});
  server_->Answer("redis-0.test", kTypeAaaa, {AaaaRecord("redis-0.test", "::2", 20)});
  MakeResolver(Options());
  DnsAnswer answer;
  bool called = false;
  resolver_->Resolve("redis-0.test", 6379, [&](const DnsAnswer& a) {
    answer = a;
    called = true;
  });
  ASSERT_TRUE(RunUntil([&] { return called; }));
  ASSERT_EQ(answer.status, ARES_SUCCESS) << answer.error;
  EXPECT_EQ(Addresses(answer),
            (std::multiset<std::string>{"127.0.0.2:6379", "127.0.0.4:6379", "[::2]:6379"}));
  EXPECT_EQ(answer.ttl_seconds, 20U);
  EXPECT_TRUE(answer.error.empty());
}

TEST_F(DnsResolverTest, CnameTtlLimitsTheAnswer) {
  server_->Answer(
      "alias.test", kTypeA,
      {CnameRecord("alias.test", "redis-1.test", 5), ARecord("redis-1.test", "127.0.0.3", 60)});
  server_->Answer("alias.test", kTypeAaaa, {});
  MakeResolver(Options());
  DnsAnswer answer;
  bool called = false;
  resolver_->Resolve("alias.test", 6379, [&](const DnsAnswer& a) {
    answer = a;
    called = true;
  });
  ASSERT_TRUE(RunUntil([&] { return called; }));
  ASSERT_EQ(answer.status, ARES_SUCCESS) << answer.error;
  EXPECT_EQ(Addresses(answer), std::multiset<std::string>{"127.0.0.3:6379"});
  EXPECT_EQ(answer.ttl_seconds, 5U);
}

TEST_F(DnsResolverTest, UnknownNameFailsWithNotFoundAndNoTtl) {
  MakeResolver(Options());
  DnsAnswer answer;
  bool called = false;
  resolver_->Resolve("missing.test", 6379, [&](const DnsAnswer& a) {
    answer = a;
    called = true;
  });
  ASSERT_TRUE(RunUntil([&] { return called; }));
  EXPECT_EQ(answer.status, ARES_ENOTFOUND);
  EXPECT_TRUE(answer.addresses.empty());
  EXPECT_EQ(answer.ttl_seconds, 0U);
  EXPECT_NE(answer.error.find("missing.test"), std::string::npos);
}

TEST_F(DnsResolverTest, SrvAnswerIsSortedAndCarriesTheMinimumRecordTtl) {
  const std::string name = "_redis._tcp.headless.test";
  server_->Answer(name, kTypeSrv,
                  {SrvRecord(name, 1, 10, 6381, "redis-2.test", 50),
                   SrvRecord(name, 0, 20, 6380, "redis-1.test", 15),
                   SrvRecord(name, 0, 50, 6379, "redis-0.test", 40)});
  MakeResolver(Options());
  SrvAnswer answer;
  bool called = false;
  ASSERT_TRUE(resolver_->ResolveSrv(name, [&](const SrvAnswer& a) {
    answer = a;
    called = true;
  }));
  EXPECT_FALSE(called);
  ASSERT_TRUE(RunUntil([&] { return called; }));
  ASSERT_EQ(answer.status, ARES_SUCCESS) << answer.error;
  ASSERT_EQ(answer.targets.size(), 3U);
  EXPECT_EQ(answer.targets[0].target, "redis-0.test");
  EXPECT_EQ(answer.targets[0].port, 6379);
  EXPECT_EQ(answer.targets[0].weight, 50);
  EXPECT_EQ(answer.targets[1].target, "redis-1.test");
  EXPECT_EQ(answer.targets[2].target, "redis-2.test");
  EXPECT_EQ(answer.targets[2].priority, 1);
  EXPECT_EQ(answer.ttl_seconds, 15U);
}

TEST_F(DnsResolverTest, SrvLookupOfNameWithoutSrvRecordsFailsWithNoData) {
  server_->Answer("headless.test", kTypeA, {ARecord("headless.test", "127.0.0.2", 30)});
  MakeResolver(Options());
  SrvAnswer answer;
  bool called = false;
  resolver_->ResolveSrv("headless.test", [&](const SrvAnswer& a) {
    answer = a;
    called = true;
  });
  ASSERT_TRUE(RunUntil([&] { return called; }));
  EXPECT_EQ(answer.status, ARES_ENODATA);
  EXPECT_TRUE(answer.targets.empty());
  EXPECT_EQ(answer.ttl_seconds, 0U);
}

TEST_F(DnsResolverTest, SilentServerTimesOutAfterTheBackedOffTries) {
  server_->Silence("slow.test");
  MakeResolver(Options(/*timeout_ms=*/40, /*tries=*/2));
  DnsAnswer answer;
  bool called = false;
  const uint64_t started = uv_hrtime();
  resolver_->Resolve("slow.test", 6379, [&](const DnsAnswer& a) {
    answer = a;
    called = true;
  });
  ASSERT_TRUE(RunUntil([&] { return called; }));
  const uint64_t elapsed_ms = (uv_hrtime() - started) / 1000000;
  EXPECT_EQ(answer.status, ARES_ETIMEOUT);
  EXPECT_GE(elapsed_ms, 40U + 80U);  // c-ares doubles the timeout for the second round
  EXPECT_LT(elapsed_ms, 2000U);
  EXPECT_EQ(server_->queries(), 4);  // A and AAAA, two tries each
}

TEST_F(DnsResolverTest, FastAnswerIsDeliveredWhileASlowLookupWaits) {
  server_->Silence("slow.test");
  server_->Answer("fast.test", kTypeA, {ARecord("fast.test", "127.0.0.7", 30)});
  MakeResolver(Options(/*timeout_ms=*/2000, /*tries=*/1));
  std::vector<std::string> order;
  resolver_->Resolve("slow.test", 1, [&](const DnsAnswer&) { order.emplace_back("slow"); });
  resolver_->Resolve("fast.test", 1, [&](const DnsAnswer&) { order.emplace_back("fast"); });
  ASSERT_TRUE(RunUntil([&] { return !order.empty(); }, 1000));
  EXPECT_EQ(order, std::vector<std::string>{"fast"});
}

TEST_F(DnsResolverTest, CloseCancelsOutstandingLookupsWithoutCallingThem) {
  server_->Silence("slow.test");
  MakeResolver(Options());
  int calls = 0;
  resolver_->Resolve("slow.test", 1, [&](const DnsAnswer&) { ++calls; });
  resolver_->ResolveSrv("slow.test", [&](const SrvAnswer&) { ++calls; });
  ASSERT_TRUE(RunUntil([&] { return server_->queries() >= 3; }));
  resolver_->Resolve("10.0.0.1", 1, [&](const DnsAnswer&) { ++calls; });  // queued, undelivered
  resolver_->Close();
  EXPECT_TRUE(resolver_->closed());
  EXPECT_FALSE(resolver_->Resolve("10.0.0.2", 1, [&](const DnsAnswer&) { ++calls; }));
  RunUntil([] { return false; }, 100);
  EXPECT_EQ(calls, 0);
}

TEST_F(DnsResolverTest, CloseFromACallbackStopsLaterDeliveries) {
  MakeResolver(Options());
  int calls = 0;
  for (const char* literal : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    resolver_->Resolve(literal, 1, [&](const DnsAnswer&) {
      ++calls;
      resolver_->Close();
    });
  }
  RunUntil([] { return false; }, 100);
  EXPECT_EQ(calls, 1);
}

TEST_F(DnsResolverTest, DestroyingTheResolverFromACallbackIsSafe) {
  server_->Answer("a.test", kTypeA, {ARecord("a.test", "127.0.0.2", 30)});
  MakeResolver(Options());
  int calls = 0;
  resolver_->Resolve("a.test", 1, [&](const DnsAnswer&) {
    ++calls;
    resolver_.reset();
  });
  resolver_->Resolve("a.test", 2, [&](const DnsAnswer&) {
    ++calls;
    resolver_.reset();
  });
  ASSERT_TRUE(RunUntil([&] { return resolver_ == nullptr; }));
  RunUntil([] { return false; }, 100);
  EXPECT_EQ(calls, 1);
}

TEST_F(DnsResolverTest, CallbackMayStartAnotherLookup) {
  server_->Answer("a.test", kTypeA, {ARecord("a.test", "127.0.0.2", 30)});
  server_->Answer("b.test", kTypeA, {ARecord("b.test", "127.0.0.3", 30)});
  MakeResolver(Options());
  DnsAnswer second;
  bool done = false;
  resolver_->Resolve("a.test", 1, [&](const DnsAnswer&) {
    resolver_->Resolve("b.test", 1, [&](const DnsAnswer& a) {
      second = a;
      done = true;
    });
  });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(Addresses(second), std::multiset<std::string>{"127.0.0.3:1"});
}

TEST_F(DnsResolverTest, CreateRejectsServersThatAreNotAddresses) {
  for (const char* bad : {"dns.example", "dns.example:53", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:", "[::1", "[::1]x", ""}) {
    DnsOptions options = Options();
    options.servers = {bad};
    std::string error;
    EXPECT_EQ(DnsResolver::Create(&loop_, options, &error), nullptr) << bad;
    EXPECT_NE(error.find("invalid DNS server"), std::string::npos) << bad << ": " << error;
  }
}

TEST_F(DnsResolverTest, CreateAcceptsIpv4AndIpv6ServersWithAndWithoutPorts) {
  DnsOptions options = Options();
  options.servers = {"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]", "[::1]:5353"};
  std::string error;
  EXPECT_NE(DnsResolver::Create(&loop_, options, &error), nullptr) << error;
}

TEST_F(DnsResolverTest, CreateRejectsAnUnreadableResolvConf) {
  DnsOptions options = Options();
  options.resolv_conf = "/nonexistent/resolv.conf";
  std::string error;
  EXPECT_EQ(DnsResolver::Create(&loop_, options, &error), nullptr);
  EXPECT_NE(error.find("/nonexistent/resolv.conf"), std::string::npos) << error;
}

TEST_F(DnsResolverTest, CreateRejectsNonPositiveTimeoutOrTries) {
  std::string error;
  EXPECT_EQ(DnsResolver::Create(&loop_, Options(0, 2), &error), nullptr);
  EXPECT_EQ(DnsResolver::Create(&loop_, Options(1000, 0), &error), nullptr);
}

}  // namespace
}  // namespace ringproxy::proxy
