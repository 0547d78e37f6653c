#include "hashing/continuum.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ringproxy::hashing {
namespace {

using RingPoint = Continuum::RingPoint;

// Server names plus the ServerWeight views Continuum::Build takes; the names outlive the views.
struct Pool {
  std::vector<std::string> names;
  std::vector<ServerWeight> servers;

  explicit Pool(std::vector<std::string> server_names, std::vector<uint32_t> weights = {})
      : names(std::move(server_names)) {
    for (size_t i = 0; i < names.size(); ++i) {
      servers.push_back({names[i], weights.empty() ? 1 : weights[i], true});
    }
  }
  // The views point into `names`; a moved short string would leave them dangling.
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
};

Pool EqualPool(size_t count) {
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    names.push_back("10.0.0." + std::to_string(i) + ":6379");
  }
  return Pool(std::move(names));
}

std::vector<uint32_t> PointsPerServer(const Continuum& continuum, size_t server_count) {
  std::vector<uint32_t> counts(server_count, 0);
  for (const RingPoint& p : continuum.ring()) {
    ++counts.at(p.server);
  }
  return counts;
}

// The ring as nutcracker defines it, computed here with OpenSSL's MD5: for server s and i below
// counts[s] / 4, the string "name-i" (cut to 272 bytes, as snprintf into nutcracker's 273-byte
// buffer does) gives four points, the little-endian words of its digest; sorted by value, equal
// values in server order.
std::vector<RingPoint> ExpectedRing(const Pool& pool, const std::vector<uint32_t>& counts) {
  std::vector<RingPoint> ring;
  for (size_t s = 0; s < pool.names.size(); ++s) {
    for (uint32_t i = 0; i < counts[s] / 4; ++i) {
      std::string host = pool.names[s] + "-" + std::to_string(i);
      host.resize(std::min<size_t>(host.size(), 272));
      std::array<unsigned char, 16> d{};
      unsigned int size = 0;
      EVP_Digest(host.data(), host.size(), d.data(), &size, EVP_md5(), nullptr);
      for (size_t x = 0; x < 4; ++x) {
        const uint32_t value = d[4 * x] | (d[4 * x + 1] << 8) | (d[4 * x + 2] << 16) |
                               (static_cast<uint32_t>(d[4 * x + 3]) << 24);
        ring.push_back({value, static_cast<uint32_t>(s)});
      }
    }
  }
  std::stable_sort(ring.begin(), ring.end(),
                   [](const RingPoint& a, const RingPoint& b) { return a.value < b.value; });
  return ring;
}

// nutcracker's dispatch, written plainly: first point with value >= hash, else the first point.
uint32_t ReferenceOwner(std::span<const RingPoint> ring, uint32_t hash) {
  for (const RingPoint& p : ring) {
    if (p.value >= hash) {
      return p.server;
    }
  }
  return ring.front().server;
}

std::vector<uint32_t> RandomHashes(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> hashes(count);
  for (uint32_t& h : hashes) {
    h = static_cast<uint32_t>(rng());
  }
  return hashes;
}

TEST(ContinuumKetama, EqualWeightsGive160PointsPerServer) {
  for (const size_t n : {1, 2, 4, 10, 64}) {
    const Pool pool = EqualPool(n);
    const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
    EXPECT_EQ(continuum.live_count(), n);
    EXPECT_EQ(PointsPerServer(continuum, n), std::vector<uint32_t>(n, 160)) << n << " servers";
  }
}

// (float)(1/25) * 160 / 4 * 25 is 39.999996 in single precision: floor gives 39 hashes, 156 points.
TEST(ContinuumKetama, SinglePrecisionPointCountGives156ForSomePoolSizes) {
  for (const size_t n : {25, 47, 50, 55, 61, 71, 94, 100}) {
    const Pool pool = EqualPool(n);
    const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
    EXPECT_EQ(PointsPerServer(continuum, n), std::vector<uint32_t>(n, 156)) << n << " servers";
  }
}

TEST(ContinuumKetama, PointsFollowWeights) {
  // pct * 40 * 3 for pct = 1/6, 2/6, 3/6: 20, 40, 60 hashes.
  const Pool pool({"a", "b", "c"}, {1, 2, 3});
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  EXPECT_EQ(PointsPerServer(continuum, 3), (std::vector<uint32_t>{80, 160, 240}));
}

TEST(ContinuumKetama, LightServerCanGetNoPointsAndNeverOwnsKeys) {
  // 1/1001 * 40 * 2 = 0.08 hashes: floor 0. 1000/1001 * 80 = 79.92: 79 hashes, 316 points.
  const Pool pool({"light", "heavy"}, {1, 1000});
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  EXPECT_EQ(PointsPerServer(continuum, 2), (std::vector<uint32_t>{0, 316}));
  for (const uint32_t h : RandomHashes(1000, 1)) {
    EXPECT_EQ(continuum.ServerFor(h), 1U);
  }
}

TEST(ContinuumKetama, RingIsMd5OfNameDashIndexSortedByValue) {
  const Pool pool({"redis-a:6379", "redis-b:6379", "cache-1"}, {1, 2, 3});
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  const std::vector<RingPoint> expected = ExpectedRing(pool, {80, 160, 240});
  EXPECT_TRUE(std::equal(continuum.ring().begin(), continuum.ring().end(), expected.begin(),
                         expected.end()));
}

TEST(ContinuumKetama, RingHoldsTwemproxyKnownPointsOfServer1) {
  const Pool pool({"server0", "server1"});
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  // ketama_hash("server1-8", 0) and ketama_hash("server1-8", 3) from twemproxy's tests.
  for (const uint32_t value : {3853726576U, 2667054752U}) {
    const auto ring = continuum.ring();
    const auto it = std::find(ring.begin(), ring.end(), RingPoint{value, 1});
    EXPECT_NE(it, ring.end()) << value;
    EXPECT_EQ(continuum.ServerFor(value), 1U);
  }
}

TEST(ContinuumKetama, LookupIsFirstPointAtOrAboveHashElseFirstPoint) {
  for (const size_t n : {1, 2, 3, 4, 7, 25, 64, 200}) {
    const Pool pool = EqualPool(n);
    const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
    const auto ring = continuum.ring();
    ASSERT_FALSE(ring.empty());
    std::vector<uint32_t> probes = RandomHashes(5000, static_cast<uint32_t>(n));
    probes.insert(probes.end(), {0U, 1U, UINT32_MAX, UINT32_MAX - 1, 1U << 31});
    for (const RingPoint& p : ring) {
      probes.insert(probes.end(), {p.value, p.value - 1, p.value + 1});
    }
    for (const uint32_t h : probes) {
      ASSERT_EQ(continuum.ServerFor(h), ReferenceOwner(ring, h)) << n << " servers, hash " << h;
    }
  }
}

TEST(ContinuumKetama, EqualPointValuesGoToTheLowerServerIndex) {
  // Same name, same points: nutcracker's stable sort keeps server order, and its binary search
  // finds the first of equal points.
  const Pool pool({"twin", "other", "twin"});
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  std::set<uint32_t> owners;
  for (const uint32_t h : RandomHashes(5000, 7)) {
    owners.insert(continuum.ServerFor(h));
  }
  EXPECT_EQ(owners, (std::set<uint32_t>{0, 1}));
  for (const RingPoint& p : continuum.ring()) {
    if (p.server != 1) {
      EXPECT_EQ(continuum.ServerFor(p.value), 0U);
    }
  }
}

TEST(ContinuumKetama, DeadServerKeysMoveWhileOthersStay) {
  Pool pool = EqualPool(10);
  const Continuum all_live = Continuum::Build(Distribution::kKetama, pool.servers);
  pool.servers[3].live = false;
  const Continuum one_dead = Continuum::Build(Distribution::kKetama, pool.servers);
  EXPECT_EQ(one_dead.live_count(), 9U);
  size_t moved = 0;
  for (const uint32_t h : RandomHashes(20000, 3)) {
    const uint32_t before = all_live.ServerFor(h);
    const uint32_t after = one_dead.ServerFor(h);
    EXPECT_NE(after, 3U);
    if (before == 3) {
      ++moved;
    } else {
      EXPECT_EQ(after, before) << "hash " << h;
    }
  }
  EXPECT_GT(moved, 0U);
}

TEST(ContinuumKetama, IndicesReferToTheGivenSpanAndSkipDeadServers) {
  Pool pool = EqualPool(5);
  pool.servers[0].live = false;
  pool.servers[2].live = false;
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  // Three live of equal weight: 160 each, and the ring is exactly theirs with their own indices.
  EXPECT_EQ(PointsPerServer(continuum, 5), (std::vector<uint32_t>{0, 160, 0, 160, 160}));
  const std::vector<RingPoint> expected = ExpectedRing(pool, {0, 160, 0, 160, 160});
  EXPECT_TRUE(std::equal(continuum.ring().begin(), continuum.ring().end(), expected.begin(),
                         expected.end()));
}

TEST(ContinuumKetama, LongNamesAreCutAt272BytesAsSnprintfDoes) {
  // 270 + "-1" fits; "-10" .. "-39" are cut back to "-1", repeating points of index 1.
  const Pool pool({std::string(270, 'n'), std::string(300, 'm')});
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  const std::vector<RingPoint> expected = ExpectedRing(pool, {160, 160});
  EXPECT_TRUE(std::equal(continuum.ring().begin(), continuum.ring().end(), expected.begin(),
                         expected.end()));
  std::set<uint32_t> distinct_long;
  for (const RingPoint& p : continuum.ring()) {
    if (p.server == 1) {
      distinct_long.insert(p.value);
    }
  }
  EXPECT_EQ(distinct_long.size(), 4U);  // 40 identical strings: one digest
  // Forty equal points in a row: lookups still land on the first of them.
  for (const RingPoint& p : continuum.ring()) {
    for (const uint32_t h : {p.value - 1, p.value, p.value + 1}) {
      ASSERT_EQ(continuum.ServerFor(h), ReferenceOwner(continuum.ring(), h)) << h;
    }
  }
}

TEST(ContinuumKetama, NameEndsAtEmbeddedNulAsPrintfDoes) {
  using std::string_literals::operator""s;
  const Pool with_nul({"abc\0def"s, "x"});
  const Pool without({"abc", "x"});
  EXPECT_TRUE(std::ranges::equal(Continuum::Build(Distribution::kKetama, with_nul.servers).ring(),
                                 Continuum::Build(Distribution::kKetama, without.servers).ring()));
}

TEST(ContinuumModula, EachLiveServerGetsWeightConsecutiveSlots) {
  const Pool pool({"a", "b", "c"}, {2, 1, 3});
  const Continuum continuum = Continuum::Build(Distribution::kModula, pool.servers);
  const std::vector<uint32_t> slots = {0, 0, 1, 2, 2, 2};
  for (uint32_t h = 0; h < 600; ++h) {
    EXPECT_EQ(continuum.ServerFor(h), slots[h % 6]) << h;
  }
  EXPECT_EQ(continuum.ServerFor(UINT32_MAX), slots[UINT32_MAX % 6]);
  EXPECT_TRUE(continuum.ring().empty());
}

TEST(ContinuumModula, DeadServersHaveNoSlots) {
  Pool pool({"a", "b", "c"}, {2, 1, 3});
  pool.servers[0].live = false;
  const Continuum continuum = Continuum::Build(Distribution::kModula, pool.servers);
  const std::vector<uint32_t> slots = {1, 2, 2, 2};
  for (const uint32_t h : RandomHashes(2000, 11)) {
    EXPECT_EQ(continuum.ServerFor(h), slots[h % 4]) << h;
  }
}

// The slot is hash % total weight for every hash, whichever way it is computed.
TEST(ContinuumModula, SlotIsHashModuloTotalWeight) {
  std::vector<uint32_t> hashes = RandomHashes(3000, 5);
  hashes.insert(hashes.end(), {0U, 1U, UINT32_MAX, UINT32_MAX - 1, 1U << 31, (1U << 31) - 1});
  for (const uint32_t total :
       {1U, 2U, 3U, 7U, 10U, 641U, 65537U, 1U << 20, (1U << 20) + 1, 3000017U}) {
    // Two servers: "a" owns slot 0, "b" the other total - 1 (none when total is 1).
    const Pool pool = total == 1 ? Pool({"a"}) : Pool({"a", "b"}, {1, total - 1});
    const Continuum continuum = Continuum::Build(Distribution::kModula, pool.servers);
    for (const uint32_t h : hashes) {
      ASSERT_EQ(continuum.ServerFor(h), h % total == 0 ? 0U : 1U) << h << " % " << total;
    }
  }
}

TEST(ContinuumModula, HugeWeightsKeepConsecutiveSlotRanges) {
  const Pool pool({"a", "b", "c"}, {1U << 20, 3U << 20, 5});
  const Continuum continuum = Continuum::Build(Distribution::kModula, pool.servers);
  const uint64_t total = (4ULL << 20) + 5;
  for (const uint32_t h : RandomHashes(5000, 13)) {
    const uint64_t slot = h % total;
    const uint32_t expected = slot < (1U << 20) ? 0 : slot < (4U << 20) ? 1 : 2;
    ASSERT_EQ(continuum.ServerFor(h), expected) << h;
  }
  // Slots at the boundaries.
  EXPECT_EQ(continuum.ServerFor((1U << 20) - 1), 0U);
  EXPECT_EQ(continuum.ServerFor(1U << 20), 1U);
  EXPECT_EQ(continuum.ServerFor((4U << 20) - 1), 1U);
  EXPECT_EQ(continuum.ServerFor(4U << 20), 2U);
  EXPECT_EQ(continuum.ServerFor(static_cast<uint32_t>(total)), 0U);
}

TEST(ContinuumRandom, PicksOnlyLiveServersAndEventuallyEveryOne) {
  Pool pool = EqualPool(6);
  pool.servers[1].live = false;
  pool.servers[4].live = false;
  const Continuum continuum = Continuum::Build(Distribution::kRandom, pool.servers);
  EXPECT_EQ(continuum.live_count(), 4U);
  std::set<uint32_t> seen;
  for (int i = 0; i < 10000; ++i) {
    seen.insert(continuum.ServerFor(0));
  }
  EXPECT_EQ(seen, (std::set<uint32_t>{0, 2, 3, 5}));
}

TEST(ContinuumRandom, DrawsAreIndependentPerThread) {
  const Pool pool = EqualPool(3);
  const Continuum continuum = Continuum::Build(Distribution::kRandom, pool.servers);
  std::atomic<int> out_of_range{0};
  std::vector<std::array<int, 3>> counts(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < counts.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30000; ++i) {
        const uint32_t s = continuum.ServerFor(0);
        if (s >= 3) {
          ++out_of_range;
        } else {
          ++counts[t][s];
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(out_of_range.load(), 0);
  for (const auto& c : counts) {
    for (const int n : c) {
      EXPECT_GT(n, 8000);  // ~10000 expected each; far from any plausible fluctuation
    }
  }
}

TEST(Continuum, NoLiveServerAnswersNoServer) {
  Pool pool = EqualPool(3);
  for (ServerWeight& s : pool.servers) {
    s.live = false;
  }
  for (const Distribution d :
       {Distribution::kKetama, Distribution::kModula, Distribution::kRandom}) {
    const Continuum dead = Continuum::Build(d, pool.servers);
    EXPECT_EQ(dead.live_count(), 0U);
    EXPECT_EQ(dead.ServerFor(12345), Continuum::kNoServer);
    const Continuum empty = Continuum::Build(d, {});
    EXPECT_EQ(empty.ServerFor(12345), Continuum::kNoServer);
    EXPECT_EQ(Continuum().ServerFor(1), Continuum::kNoServer);
  }
}

TEST(Continuum, ZeroWeightServerIsTreatedAsNotLive) {
  const Pool pool({"a", "b"}, {0, 1});
  for (const Distribution d :
       {Distribution::kKetama, Distribution::kModula, Distribution::kRandom}) {
    const Continuum continuum = Continuum::Build(d, pool.servers);
    EXPECT_EQ(continuum.live_count(), 1U);
    for (const uint32_t h : RandomHashes(200, 17)) {
      EXPECT_EQ(continuum.ServerFor(h), 1U);
    }
  }
}

}  // namespace
}  // namespace ringproxy::hashing
