// Micro benchmarks of the per-request placement path: key hash, continuum lookup, and the two
// together. Lookups cycle through precomputed random hashes so the ring is probed at random
// positions, as real keys do, and the generator's cost stays out of the loop.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "hashing/continuum.h"
#include "hashing/hash_function.h"
#include "hashing/placement.h"

namespace ringproxy::hashing {
namespace {

constexpr size_t kProbeCount = 1 << 16;  // power of two: cheap wrap-around

std::vector<uint32_t> RandomHashes() {
  std::mt19937 rng(42);
  std::vector<uint32_t> hashes(kProbeCount);
  for (uint32_t& h : hashes) {
    h = static_cast<uint32_t>(rng());
  }
  return hashes;
}

// Names shaped like a StatefulSet's pods, in a stable vector so the views stay valid.
struct Pool {
  std::vector<std::string> names;
  std::vector<ServerWeight> servers;

  explicit Pool(size_t count) {
    names.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      names.push_back("redis-" + std::to_string(i) + ".redis.cache.svc:6379");
    }
    for (const std::string& name : names) {
      servers.push_back({name, 1, true});
    }
  }
};

// Typical key shapes: "user:1234567:sess" is 16 bytes; 64 bytes is a long composite key.
std::string KeyOfSize(size_t size) {
  std::string key = "user:1234567:session:";
  while (key.size() < size) {
    key += static_cast<char>('a' + key.size() % 26);
  }
  key.resize(size);
  return key;
}

void BM_Hash(benchmark::State& state, HashKind kind) {
  const std::string key = KeyOfSize(static_cast<size_t>(state.range(0)));
  const HashFn fn = HashFunctionFor(kind);
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(fn(key.data(), key.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

struct NamedHash {
  const char* name;
  HashKind kind;
};

constexpr std::array<NamedHash, 13> kHashes = {{
    {"BM_Hash_OneAtATime", HashKind::kOneAtATime},
    {"BM_Hash_Md5", HashKind::kMd5},
    {"BM_Hash_Crc16", HashKind::kCrc16},
    {"BM_Hash_Crc32", HashKind::kCrc32},
    {"BM_Hash_Crc32a", HashKind::kCrc32a},
    {"BM_Hash_Fnv1_64", HashKind::kFnv1_64},
    {"BM_Hash_Fnv1a_64", HashKind::kFnv1a_64},
    {"BM_Hash_Fnv1_32", HashKind::kFnv1_32},
    {"BM_Hash_Fnv1a_32", HashKind::kFnv1a_32},
    {"BM_Hash_Hsieh", HashKind::kHsieh},
    {"BM_Hash_Murmur", HashKind::kMurmur},
    {"BM_Hash_Jenkins", HashKind::kJenkins},
    {"BM_Hash_Xxh3", HashKind::kXxh3},
}};

const bool kHashesRegistered = [] {
  for (const NamedHash& h : kHashes) {
    benchmark::RegisterBenchmark(h.name, BM_Hash, h.kind)->Arg(16)->Arg(64);
  }
  return true;
}();

void BM_ContinuumLookup_Ketama(benchmark::State& state) {
  const Pool pool(static_cast<size_t>(state.range(0)));
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  const std::vector<uint32_t> hashes = RandomHashes();
  size_t i = 0;
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(continuum.ServerFor(hashes[i++ & (kProbeCount - 1)]));
  }
}
BENCHMARK(BM_ContinuumLookup_Ketama)->Arg(4)->Arg(64)->Arg(1024);

// The alternative the bucket index replaced: nutcracker's plain binary search over the whole ring
// (same ring, same probes), to show what the index buys at each size.
void BM_ContinuumLookup_KetamaBinarySearch(benchmark::State& state) {
  const Pool pool(static_cast<size_t>(state.range(0)));
  const Continuum continuum = Continuum::Build(Distribution::kKetama, pool.servers);
  const auto ring = continuum.ring();
  const std::vector<uint32_t> hashes = RandomHashes();
  size_t i = 0;
  for ([[maybe_unused]] auto _ : state) {
    const uint32_t hash = hashes[i++ & (kProbeCount - 1)];
    auto it =
        std::lower_bound(ring.begin(), ring.end(), hash,
                         [](const Continuum::RingPoint& p, uint32_t h) { return p.value < h; });
    if (it == ring.end()) {
      it = ring.begin();
    }
    benchmark::DoNotOptimize(it->server);
  }
}
BENCHMARK(BM_ContinuumLookup_KetamaBinarySearch)->Arg(4)->Arg(64)->Arg(1024);

void BM_ContinuumLookup_Modula(benchmark::State& state) {
  const Pool pool(static_cast<size_t>(state.range(0)));
  const Continuum continuum = Continuum::Build(Distribution::kModula, pool.servers);
  const std::vector<uint32_t> hashes = RandomHashes();
  size_t i = 0;
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(continuum.ServerFor(hashes[i++ & (kProbeCount - 1)]));
  }
}
BENCHMARK(BM_ContinuumLookup_Modula)->Arg(64);

void BM_ContinuumLookup_Random(benchmark::State& state) {
  const Pool pool(64);
  const Continuum continuum = Continuum::Build(Distribution::kRandom, pool.servers);
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(continuum.ServerFor(0));
  }
}
BENCHMARK(BM_ContinuumLookup_Random);

void BM_ContinuumBuild_Ketama(benchmark::State& state) {
  const Pool pool(static_cast<size_t>(state.range(0)));
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(Continuum::Build(Distribution::kKetama, pool.servers));
  }
}
BENCHMARK(BM_ContinuumBuild_Ketama)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

// The whole routing decision for one key: hash tag, fnv1a_64 (nutcracker's default), ketama over
// 64 servers. Keys vary so the ring is probed at different places.
void BM_Placement_ServerFor(benchmark::State& state) {
  const Pool pool(64);
  const std::string_view tag = state.range(0) != 0 ? "{}" : "";
  const Placement placement(HashKind::kFnv1a_64, std::string(tag),
                            Continuum::Build(Distribution::kKetama, pool.servers),
                            static_cast<uint32_t>(pool.servers.size()));
  std::vector<std::string> keys;
  keys.reserve(1024);
  for (int i = 0; i < 1024; ++i) {
    keys.push_back(state.range(0) != 0 ? "{user:" + std::to_string(1000000 + i) + "}:sess"
                                       : "user:" + std::to_string(1000000 + i) + ":sess");
  }
  size_t i = 0;
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(placement.ServerFor(keys[i++ & 1023]));
  }
}
BENCHMARK(BM_Placement_ServerFor)->ArgName("hash_tag")->Arg(0)->Arg(1);

}  // namespace
}  // namespace ringproxy::hashing
