// StatsJson: nutcracker's document, byte for byte in layout, from counters summed over workers;
// the -i cache; and the field table that -D prints.
#include "observability/stats_json.h"

#include <gtest/gtest.h>

#include <string>

#include "observability/stat_field.h"
#include "observability/stats_view.h"
#include "tests/proxy/stats_fixture.h"

namespace ringproxy::proxy {
namespace {

const StatsJson::Identity kIdentity{"ringproxy", "host-1", "9.8.7", 1000};

std::string ZeroServer(const std::string& name) {
  return "\"" + name +
         "\": {\"server_eof\":0, \"server_err\":0, \"server_timedout\":0, "
         "\"server_connections\":0, \"server_ejected_at\":0, \"requests\":0, "
         "\"request_bytes\":0, \"responses\":0, \"response_bytes\":0, \"in_queue\":0, "
         "\"in_queue_bytes\":0, \"out_queue\":0, \"out_queue_bytes\":0}";
}

TEST(StatsJson, DocumentHasNutcrackersLayoutWithWorkersSummed) {
  StatsFixture f;
  f.alpha[0]->client_eof.Add(2);
  f.alpha[1]->client_eof.Add(3);
  f.alpha[0]->client_err.Add(1);
  f.alpha[0]->client_connections.Add(4);
  f.alpha[1]->client_connections.Add(1);
  f.alpha[0]->client_connections_total.Add(10);
  f.alpha[1]->client_connections_total.Add(7);
  f.beta[1]->client_connections_total.Add(1);
  f.alpha[1]->server_ejects.Add(1);
  f.alpha[0]->forward_error.Add(6);
  f.alpha[1]->fragments.Add(8);
  f.s0[0]->server_eof.Add(1);
  f.s0[1]->server_err.Add(2);
  f.s0[0]->server_timedout.Add(3);
  f.s0[0]->server_connections.Add(1);
  f.s0[1]->server_connections.Add(1);
  f.s0[0]->requests.Add(100);
  f.s0[1]->requests.Add(23);
  f.s0[0]->request_bytes.Add(1000);
  f.s0[1]->request_bytes.Add(230);
  f.s0[0]->responses.Add(99);
  f.s0[1]->responses.Add(23);
  f.s0[0]->response_bytes.Add(500);
  f.s0[1]->response_bytes.Add(5);
  f.s0[0]->in_queue.Add(2);
  f.s0[1]->in_queue_bytes.Add(20);
  f.s0[0]->out_queue.Add(1);
  f.s0[1]->out_queue_bytes.Add(10);

  const std::string document =
      StatsJson::Render(kIdentity, StatsView::Gather(f.registry, f.config), 1042);

  const std::string expected =
      "{\"service\":\"ringproxy\", \"source\":\"host-1\", \"version\":\"9.8.7\", \"uptime\":42, "
      "\"timestamp\":1042, \"total_connections\":18, \"curr_connections\":5, "
      "\"alpha\": {\"client_eof\":5, \"client_err\":1, \"client_connections\":5, "
      "\"server_ejects\":1, \"forward_error\":6, \"fragments\":8, "
      "\"s0\": {\"server_eof\":1, \"server_err\":2, \"server_timedout\":3, "
      "\"server_connections\":2, \"server_ejected_at\":0, \"requests\":123, "
      "\"request_bytes\":1230, \"responses\":122, \"response_bytes\":505, \"in_queue\":2, "
      "\"in_queue_bytes\":20, \"out_queue\":1, \"out_queue_bytes\":10}," +
      ZeroServer("127.0.0.1:6379") +
      "},"
      "\"beta\": {\"client_eof\":0, \"client_err\":0, \"client_connections\":0, "
      "\"server_ejects\":0, \"forward_error\":0, \"fragments\":0, " +
      ZeroServer("b0") + "}}\n";
  EXPECT_EQ(document, expected);
}

TEST(StatsJson, EjectedAtIsTheLatestWorkerTimeInMicroseconds) {
  StatsFixture f;
  f.b0[0]->server_ejected_at.Set(1700000000);
  f.b0[1]->server_ejected_at.Set(1700000005);
  const std::string document =
      StatsJson::Render(kIdentity, StatsView::Gather(f.registry, f.config), 2000);
  EXPECT_NE(document.find("\"server_ejected_at\":1700000005000000"), std::string::npos) << document;
}

TEST(StatsJson, StatsOfServersAndPoolsNoLongerConfiguredAreLeftOut) {
  StatsFixture f;
  f.registry.RegisterServer(0, "alpha", "dropped")->requests.Add(5);
  f.registry.RegisterPool(0, "gone")->client_eof.Add(1);
  const std::string document =
      StatsJson::Render(kIdentity, StatsView::Gather(f.registry, f.config), 2000);
  EXPECT_EQ(document.find("dropped"), std::string::npos);
  EXPECT_EQ(document.find("gone"), std::string::npos);
  EXPECT_NE(document.find("\"s0\""), std::string::npos);
}

TEST(StatsJson, NamesAreEscapedIntoValidJsonStrings) {
  StatsRegistry registry;
  config::Config config;
  config.pools.push_back(StatsFixture::Pool("we\"ird\\pool", {"tab\there"}));
  registry.RegisterServer(0, "we\"ird\\pool", "tab\there");
  const std::string document =
      StatsJson::Render(kIdentity, StatsView::Gather(registry, config), 2000);
  EXPECT_NE(document.find("\"we\\\"ird\\\\pool\": {"), std::string::npos) << document;
  EXPECT_NE(document.find("\"tab\\there\": {"), std::string::npos) << document;
}

TEST(StatsJson, CountersAreReadAgainOnlyOnceTheIntervalHasPassed) {
  StatsFixture f;
  int gathers = 0;
  auto gather = [&] {
    ++gathers;
    return StatsView::Gather(f.registry, f.config);
  };
  StatsJson json(kIdentity, 1000);
  f.s0[0]->requests.Add(1);
  const std::string first = json.Document(gather, 2000, 50000);
  EXPECT_NE(first.find("\"requests\":1,"), std::string::npos);
  f.s0[0]->requests.Add(1);
  const std::string cached = json.Document(gather, 2001, 50999);
  EXPECT_EQ(gathers, 1);
  EXPECT_NE(cached.find("\"requests\":1,"), std::string::npos);
  // The header is always current, as nutcracker's.
  EXPECT_NE(cached.find("\"timestamp\":2001,"), std::string::npos);
  const std::string fresh = json.Document(gather, 2002, 51000);
  EXPECT_EQ(gathers, 2);
  EXPECT_NE(fresh.find("\"requests\":2,"), std::string::npos);
}

TEST(StatsJson, ZeroIntervalReadsTheCountersForEveryDocument) {
  StatsFixture f;
  int gathers = 0;
  auto gather = [&] {
    ++gathers;
    return StatsView::Gather(f.registry, f.config);
  };
  StatsJson json(kIdentity, 0);
  json.Document(gather, 1, 5);
  json.Document(gather, 1, 5);
  EXPECT_EQ(gathers, 2);
}

TEST(StatFields, AreNutcrackersFieldsInNutcrackersOrder) {
  std::vector<std::string> pool;
  for (const auto& field : PoolStatFields()) pool.emplace_back(field.name);
  EXPECT_EQ(pool, (std::vector<std::string>{"client_eof", "client_err", "client_connections",
                                            "server_ejects", "forward_error", "fragments"}));
  std::vector<std::string> server;
  for (const auto& field : ServerStatFields()) server.emplace_back(field.name);
  EXPECT_EQ(server,
            (std::vector<std::string>{"server_eof", "server_err", "server_timedout",
                                      "server_connections", "server_ejected_at", "requests",
                                      "request_bytes", "responses", "response_bytes", "in_queue",
                                      "in_queue_bytes", "out_queue", "out_queue_bytes"}));
}

TEST(StatFields, DescribeStatsListsEveryFieldWithItsMeaning) {
  const std::string text = DescribeStats();
  EXPECT_EQ(text.rfind("pool stats:\n", 0), 0u);
  for (const auto& field : PoolStatFields()) {
    EXPECT_NE(text.find("  " + std::string(field.name) + " "), std::string::npos) << field.name;
    EXPECT_NE(text.find("\"" + std::string(field.description) + "\""), std::string::npos);
  }
  for (const auto& field : ServerStatFields()) {
    EXPECT_NE(text.find("  " + std::string(field.name) + " "), std::string::npos) << field.name;
  }
  EXPECT_NE(text.find("ringproxy_request_duration_seconds histogram {pool,command_class}"),
            std::string::npos);
}

}  // namespace
}  // namespace ringproxy::proxy
