#include "hashing/placement.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ringproxy::hashing {
namespace {

Placement MakePlacement(HashKind hash, std::string hash_tag, Distribution distribution,
                        const std::vector<ServerWeight>& servers) {
  return Placement(hash, std::move(hash_tag), Continuum::Build(distribution, servers),
                   static_cast<uint32_t>(servers.size()));
}

// twemproxy's placement check: fnv1a_64 + modula over redis-2100 and redis-2101 (sorted order).
TEST(Placement, MatchesTwemproxyModulaPlacementCheck) {
  const std::vector<ServerWeight> servers = {{"redis-2100", 1, true}, {"redis-2101", 1, true}};
  const Placement placement =
      MakePlacement(HashKind::kFnv1a_64, "", Distribution::kModula, servers);
  EXPECT_EQ(placement.ServerFor("key-1"), 0U);
  EXPECT_EQ(placement.ServerFor("key-3"), 0U);
  EXPECT_EQ(placement.ServerFor("kkk-3"), 0U);
  EXPECT_EQ(placement.ServerFor("key-2"), 1U);
}

TEST(Placement, KetamaPlacementIsContinuumOfKeyHash) {
  std::vector<std::string> names;
  std::vector<ServerWeight> servers;
  names.reserve(16);
  for (int i = 0; i < 16; ++i) {
    names.push_back("shard-" + std::to_string(i));
  }
  servers.reserve(names.size());
  for (const std::string& name : names) {
    servers.push_back({name, 1, true});
  }
  const Placement placement = MakePlacement(HashKind::kMurmur, "", Distribution::kKetama, servers);
  std::set<uint32_t> owners;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "user:" + std::to_string(i);
    const uint32_t server = placement.ServerFor(key);
    EXPECT_EQ(server, placement.continuum().ServerFor(Hash(HashKind::kMurmur, key)));
    owners.insert(server);
  }
  EXPECT_EQ(owners.size(), 16U);
}

TEST(Placement, HashTagSendsTaggedKeysTogether) {
  const std::vector<ServerWeight> servers = {{"a", 1, true}, {"b", 1, true}, {"c", 1, true}};
  const Placement placement =
      MakePlacement(HashKind::kFnv1a_64, "{}", Distribution::kModula, servers);
  for (int i = 0; i < 100; ++i) {
    const std::string tag = "user" + std::to_string(i);
    const uint32_t expected = Hash(HashKind::kFnv1a_64, tag) % 3;
    EXPECT_EQ(placement.ServerFor("{" + tag + "}:profile"), expected);
    EXPECT_EQ(placement.ServerFor("followers:{" + tag + "}"), expected);
  }
  // No usable tag: the whole key is hashed.
  EXPECT_EQ(placement.ServerFor("{}key-2"), Hash(HashKind::kFnv1a_64, "{}key-2") % 3);
  EXPECT_EQ(placement.hash_tag(), "{}");
}

// nutcracker maps an empty key to hash 0; fnv1a_64("") is 0x84222325, which is odd, so hashing it
// would pick the second of two modula slots.
TEST(Placement, EmptyKeyHashesToZero) {
  ASSERT_EQ(Hash(HashKind::kFnv1a_64, "") % 2, 1U);
  const std::vector<ServerWeight> servers = {{"a", 1, true}, {"b", 1, true}};
  const Placement placement =
      MakePlacement(HashKind::kFnv1a_64, "", Distribution::kModula, servers);
  EXPECT_EQ(placement.ServerFor(""), 0U);
}

TEST(Placement, SingleServerPoolAlwaysAnswersZero) {
  const std::vector<ServerWeight> servers = {{"only", 1, true}};
  for (const Distribution d :
       {Distribution::kKetama, Distribution::kModula, Distribution::kRandom}) {
    const Placement placement = MakePlacement(HashKind::kMd5, "{}", d, servers);
    EXPECT_EQ(placement.ServerFor("anything"), 0U);
    EXPECT_EQ(placement.ServerFor(""), 0U);
  }
}

TEST(Placement, NoLiveServerAnswersNoServer) {
  const std::vector<ServerWeight> one_dead = {{"only", 1, false}};
  EXPECT_EQ(
      MakePlacement(HashKind::kFnv1a_64, "", Distribution::kKetama, one_dead).ServerFor("key"),
      Continuum::kNoServer);
  const std::vector<ServerWeight> all_dead = {{"a", 1, false}, {"b", 1, false}};
  for (const Distribution d :
       {Distribution::kKetama, Distribution::kModula, Distribution::kRandom}) {
    EXPECT_EQ(MakePlacement(HashKind::kFnv1a_64, "", d, all_dead).ServerFor("key"),
              Continuum::kNoServer);
  }
}

TEST(Placement, DeadServerKeysGoToLiveServers) {
  const std::vector<ServerWeight> servers = {{"a", 1, true}, {"b", 1, false}, {"c", 1, true}};
  for (const Distribution d :
       {Distribution::kKetama, Distribution::kModula, Distribution::kRandom}) {
    const Placement placement = MakePlacement(HashKind::kCrc32a, "", d, servers);
    for (int i = 0; i < 500; ++i) {
      EXPECT_NE(placement.ServerFor("k" + std::to_string(i)), 1U);
    }
  }
}

TEST(Placement, ReportsItsConfiguration) {
  const std::vector<ServerWeight> servers = {{"a", 1, true}, {"b", 1, true}};
  const Placement placement = MakePlacement(HashKind::kXxh3, "$$", Distribution::kKetama, servers);
  EXPECT_EQ(placement.hash(), HashKind::kXxh3);
  EXPECT_EQ(placement.hash_tag(), "$$");
  EXPECT_EQ(placement.continuum().distribution(), Distribution::kKetama);
  EXPECT_EQ(placement.continuum().live_count(), 2U);
}

}  // namespace
}  // namespace ringproxy::hashing
