// MetricsCollector: the Prometheus text a scrape returns — counters summed over workers,
// cumulative histograms whose +Inf bucket equals _count, bounded labels, every metric of the
// table present with HELP and TYPE, and README.md documenting each one.
#include "observability/metrics_collector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "observability/metric_info.h"
#include "observability/stats_view.h"
#include "tests/proxy/stats_fixture.h"

namespace ringproxy::proxy {
namespace {

// {"name{labels}": value} for every sample line of a text exposition.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// The label names used in a sample key `name{a="x",b="y"}`.
std::set<std::string> LabelNames(const std::string& key) {
  std::set<std::string> names;
  const size_t open = key.find('{');
  if (open == std::string::npos) return names;
  size_t at = open + 1;
  while (at < key.size() && key[at] != '}') {
    const size_t equals = key.find('=', at);
    names.insert(key.substr(at, equals - at));
    at = key.find('"', key.find('"', equals) + 1) + 1;  // past the closing quote
    if (key[at] == ',') ++at;
  }
  return names;
}

class MetricsCollectorTest : public ::testing::Test {
 protected:
  std::string Scrape() const {
    const MetricsCollector collector(
        MetricsCollector::Identity{"1.2.3", 2, 1700000000},
        [this] { return StatsView::Gather(f.registry, f.config); }, &control);
    return collector.Text();
  }

  StatsFixture f;
  ControlStats control;
};

TEST_F(MetricsCollectorTest, CountersAreSummedOverWorkers) {
  f.s0[0]->requests.Add(100);
  f.s0[1]->requests.Add(23);
  f.s0[0]->response_bytes.Add(7);
  f.alpha[0]->requests_of(CommandClass::kSingleKey).Add(5);
  f.alpha[1]->requests_of(CommandClass::kSingleKey).Add(6);
  f.alpha[1]->requests_of(CommandClass::kSplitGet).Add(2);
  f.alpha[0]->client_connections.Add(3);
  f.alpha[1]->client_connections.Add(-1);
  f.alpha[0]->fragments.Add(9);
  const auto samples = Samples(Scrape());
  EXPECT_EQ(samples.at("ringproxy_server_requests_total{pool=\"alpha\",server=\"s0\"}"), 123);
  EXPECT_EQ(samples.at("ringproxy_server_response_bytes_total{pool=\"alpha\",server=\"s0\"}"), 7);
  EXPECT_EQ(samples.at("ringproxy_server_requests_total{pool=\"beta\",server=\"b0\"}"), 0);
  EXPECT_EQ(samples.at("ringproxy_requests_total{pool=\"alpha\",command_class=\"single_key\"}"),
            11);
  EXPECT_EQ(samples.at("ringproxy_requests_total{pool=\"alpha\",command_class=\"mget\"}"), 2);
  EXPECT_EQ(samples.at("ringproxy_client_connections{pool=\"alpha\"}"), 2);
  EXPECT_EQ(samples.at("ringproxy_fragments_total{pool=\"alpha\"}"), 9);
}

TEST_F(MetricsCollectorTest, ServerErrorsAreSplitByKind) {
  f.local[0]->server_eof.Add(1);
  f.local[1]->server_err.Add(2);
  f.local[0]->server_timedout.Add(3);
  f.local[1]->connect_failures.Add(4);
  f.local[0]->error_replies.Add(5);
  const auto samples = Samples(Scrape());
  const std::string labels = "pool=\"alpha\",server=\"127.0.0.1:6379\"";
  EXPECT_EQ(samples.at("ringproxy_server_errors_total{" + labels + ",kind=\"eof\"}"), 1);
  EXPECT_EQ(samples.at("ringproxy_server_errors_total{" + labels + ",kind=\"error\"}"), 2);
  EXPECT_EQ(samples.at("ringproxy_server_errors_total{" + labels + ",kind=\"timeout\"}"), 3);
  EXPECT_EQ(samples.at("ringproxy_server_errors_total{" + labels + ",kind=\"connect_failure\"}"),
            4);
  EXPECT_EQ(samples.at("ringproxy_server_error_replies_total{" + labels + "}"), 5);
}

TEST_F(MetricsCollectorTest, EjectedCountsTheWorkersThatEjectedTheServer) {
  f.b0[1]->server_ejected_at.Set(1700000001);
  const auto samples = Samples(Scrape());
  EXPECT_EQ(samples.at("ringproxy_server_ejected{pool=\"beta\",server=\"b0\"}"), 1);
  EXPECT_EQ(samples.at("ringproxy_server_ejected{pool=\"alpha\",server=\"s0\"}"), 0);
}

TEST(LatencyHistogram, EachSampleLandsInTheFirstBucketAtOrAboveIt) {
  const auto& bounds = LatencyHistogram::kBoundsUs;
  auto expected = [&](uint64_t micros) {
    size_t i = 0;
    while (i < bounds.size() && micros > bounds[i]) ++i;
    return i;
  };
  std::vector<uint64_t> samples = {0, 1, UINT64_MAX, UINT64_MAX - 1};
  for (const uint64_t bound : bounds) {
    for (const uint64_t near : {bound - 1, bound, bound + 1, bound * 2 - 1, bound * 2}) {
      samples.push_back(near);
    }
  }
  for (int shift = 0; shift < 64; ++shift) {
    const uint64_t power = uint64_t{1} << shift;
    samples.insert(samples.end(), {power - 1, power, power + 1});
  }
  for (const uint64_t micros : samples) {
    EXPECT_EQ(LatencyHistogram::BucketOf(micros), expected(micros)) << micros;
    LatencyHistogram histogram;
    histogram.Observe(micros);
    EXPECT_EQ(histogram.bucket(expected(micros)), 1u) << micros;
  }
}

TEST_F(MetricsCollectorTest, HistogramsAreCumulativeInSecondsAndInfEqualsCount) {
  f.s0[0]->latency.Observe(40);       // <= 50 us
  f.s0[1]->latency.Observe(50);       // <= 50 us (bounds are inclusive)
  f.s0[0]->latency.Observe(150);      // <= 200 us
  f.s0[1]->latency.Observe(9000000);  // beyond the last bound: +Inf only
  const auto samples = Samples(Scrape());
  const std::string base = "ringproxy_server_request_duration_seconds";
  const std::string labels = "pool=\"alpha\",server=\"s0\"";
  const std::string bucket_prefix = base + "_bucket{" + labels + ",le=";
  std::vector<double> cumulative;
  for (const auto& [key, value] : samples) {
    if (key.rfind(bucket_prefix, 0) == 0) cumulative.push_back(value);
  }
  ASSERT_EQ(cumulative.size(), LatencyHistogram::kBoundsUs.size() + 1);
  EXPECT_EQ(samples.at(base + "_bucket{" + labels + ",le=\"5e-05\"}"), 2);
  EXPECT_EQ(samples.at(base + "_bucket{" + labels + ",le=\"0.0001\"}"), 2);
  EXPECT_EQ(samples.at(base + "_bucket{" + labels + ",le=\"0.0002\"}"), 3);
  EXPECT_EQ(samples.at(base + "_bucket{" + labels + ",le=\"5\"}"), 3);
  EXPECT_EQ(samples.at(base + "_bucket{" + labels + ",le=\"+Inf\"}"), 4);
  EXPECT_EQ(samples.at(base + "_count{" + labels + "}"), 4);
  EXPECT_DOUBLE_EQ(samples.at(base + "_sum{" + labels + "}"), 9.00024);
}

TEST_F(MetricsCollectorTest, EveryHistogramIsMonotonicWithInfEqualToCount) {
  for (int i = 0; i < 50; ++i) {
    f.alpha[i % 2]->latency_of(CommandClass::kSplitSet).Observe(static_cast<uint64_t>(i) * 997);
    f.b0[i % 2]->latency.Observe(static_cast<uint64_t>(i) * i * 131);
  }
  const std::string text = Scrape();
  std::istringstream in(text);
  std::string line;
  std::map<std::string, double> last_bucket;  // series (labels without le) -> last cumulative
  std::map<std::string, double> inf;
  std::map<std::string, double> count;
  int buckets = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    const std::string key = line.substr(0, space);
    const double value = std::stod(line.substr(space + 1));
    const size_t bucket = key.find("_bucket{");
    if (bucket != std::string::npos) {
      const size_t le = key.find(",le=");
      const std::string series = key.substr(0, bucket) + key.substr(bucket + 7, le - bucket - 7);
      EXPECT_GE(value, last_bucket[series]) << key;
      last_bucket[series] = value;
      if (key.find("le=\"+Inf\"") != std::string::npos) inf[series] = value;
      ++buckets;
    }
    const size_t count_at = key.find("_count{");
    if (count_at != std::string::npos) {
      count[key.substr(0, count_at) + key.substr(count_at + 6, key.size() - count_at - 7)] = value;
    }
  }
  EXPECT_GT(buckets, 0);
  EXPECT_EQ(inf, count);
  EXPECT_EQ(inf.at("ringproxy_request_duration_seconds{pool=\"alpha\",command_class=\"mset\""), 50);
}

TEST_F(MetricsCollectorTest, BuildInfoAndStartTime) {
  const auto samples = Samples(Scrape());
  EXPECT_EQ(samples.at("ringproxy_build_info{version=\"1.2.3\",workers=\"2\"}"), 1);
  EXPECT_EQ(samples.at("ringproxy_start_time_seconds"), 1700000000);
}

TEST_F(MetricsCollectorTest, ControlStatsAreExported) {
  control.dns_resolutions.Add(7);
  control.dns_failures.Add(2);
  control.dns_address_changes.Add(1);
  control.config_reloads_ok.Add(3);
  control.config_reloads_rejected.Add(4);
  const auto samples = Samples(Scrape());
  EXPECT_EQ(samples.at("ringproxy_dns_resolutions_total"), 7);
  EXPECT_EQ(samples.at("ringproxy_dns_failures_total"), 2);
  EXPECT_EQ(samples.at("ringproxy_dns_address_changes_total"), 1);
  EXPECT_EQ(samples.at("ringproxy_config_reloads_total{kind=\"ok\"}"), 3);
  EXPECT_EQ(samples.at("ringproxy_config_reloads_total{kind=\"rejected\"}"), 4);
}

TEST_F(MetricsCollectorTest, EveryMetricOfTheTableHasHelpTypeAndSamples) {
  const std::string text = Scrape();
  const auto samples = Samples(text);
  for (const MetricInfo& metric : AllMetrics()) {
    const std::string name(metric.name);
    EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find("# TYPE " + name + " " + std::string(MetricTypeName(metric.type)) + "\n"),
              std::string::npos)
        << name;
    const std::string sample_name = metric.type == MetricType::kHistogram ? name + "_count" : name;
    bool found = false;
    for (const auto& [key, value] : samples) {
      if (key == sample_name || key.rfind(sample_name + "{", 0) == 0) found = true;
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST_F(MetricsCollectorTest, LabelsAreOnlyTheBoundedOnesTheTableDeclares) {
  const std::set<std::string> allowed = {"pool", "server",  "command_class", "kind",
                                         "le",   "version", "workers"};
  for (const auto& [key, value] : Samples(Scrape())) {
    for (const std::string& name : LabelNames(key)) {
      EXPECT_TRUE(allowed.count(name)) << key;
    }
  }
}

TEST(MetricInfo, ReadmeDocumentsEveryMetric) {
  std::ifstream in(std::string(RINGPROXY_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found under " << RINGPROXY_SOURCE_DIR;
  std::stringstream readme;
  readme << in.rdbuf();
  for (const MetricInfo& metric : AllMetrics()) {
    EXPECT_NE(readme.str().find("| `" + std::string(metric.name) + "` | " +
                                std::string(MetricTypeName(metric.type)) + " |"),
              std::string::npos)
        << metric.name << " is not in README.md's metrics table";
  }
}

}  // namespace
}  // namespace ringproxy::proxy
