// Micro benchmarks of the command table: the lookup every request makes (the table's folded-word
// hash index against the obvious std::unordered_map keyed by a lowercased copy), and key
// collection for typical shapes. Lookups cycle through a precomputed list of names so that the
// branch predictor cannot learn one name.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dataplane/command_table.h"

namespace ringproxy::proxy {
namespace {

constexpr size_t kNameCount = 1 << 12;  // power of two: cheap wrap-around

std::string RandomCase(std::string_view name, std::mt19937& rng) {
  std::string out(name);
  for (char& c : out) {
    if (rng() % 2 == 0) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string Upper(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// What a cache's traffic looks like: a few commands, upper case as client libraries send them.
std::vector<std::string> CommonNames() {
  const std::string_view common[] = {
      "GET",    "GET",     "GET",    "SET",  "SET",  "MGET",  "DEL",     "INCR",
      "EXPIRE", "HGETALL", "HSET",   "HGET", "ZADD", "LPUSH", "EVALSHA", "TTL",
      "SETEX",  "EXISTS",  "ZRANGE", "SADD", "PING", "MSET",  "RPOP",    "ZRANGEBYSCORE"};
  std::mt19937 rng(7);
  std::vector<std::string> names(kNameCount);
  for (std::string& name : names) {
    name = common[rng() % std::size(common)];
  }
  return names;
}

// Every command, each letter's case random: the table's whole width.
std::vector<std::string> AllNames() {
  std::mt19937 rng(11);
  std::vector<std::string> names(kNameCount);
  const auto all = AllCommands();
  for (std::string& name : names) {
    name = RandomCase(all[rng() % all.size()].name, rng);
  }
  return names;
}

// Names of the right lengths that are not commands (typos, other versions' commands).
std::vector<std::string> UnknownNames() {
  std::mt19937 rng(13);
  std::vector<std::string> names(kNameCount);
  const auto all = AllCommands();
  for (std::string& name : names) {
    do {
      name = Upper(all[rng() % all.size()].name);
      name[rng() % name.size()] = static_cast<char>('A' + rng() % 26);
    } while (LookupCommand(name) != nullptr);
  }
  return names;
}

void RunTable(benchmark::State& state, const std::vector<std::string>& names) {
  std::vector<std::string_view> views(names.begin(), names.end());
  size_t i = 0;
  for ([[maybe_unused]] auto _ : state) {
    const CommandSpec* spec = LookupCommand(views[i++ & (kNameCount - 1)]);
    benchmark::DoNotOptimize(spec);
  }
  state.SetItemsProcessed(state.iterations());
}

// The straightforward alternative: lowercase into a std::string, then a hash map.
class NaiveMap {
 public:
  NaiveMap() {
    for (const CommandSpec& spec : AllCommands()) {
      map_.emplace(std::string(spec.name), &spec);
    }
  }
  const CommandSpec* Lookup(std::string_view name) const {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto it = map_.find(lower);
    return it == map_.end() ? nullptr : it->second;
  }

 private:
  std::unordered_map<std::string, const CommandSpec*> map_;
};

void RunNaiveMap(benchmark::State& state, const std::vector<std::string>& names) {
  const NaiveMap map;
  std::vector<std::string_view> views(names.begin(), names.end());
  size_t i = 0;
  for ([[maybe_unused]] auto _ : state) {
    const CommandSpec* spec = map.Lookup(views[i++ & (kNameCount - 1)]);
    benchmark::DoNotOptimize(spec);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CommandLookup_TableCommon(benchmark::State& state) { RunTable(state, CommonNames()); }
void BM_CommandLookup_NaiveMapCommon(benchmark::State& state) { RunNaiveMap(state, CommonNames()); }
void BM_CommandLookup_TableAllNames(benchmark::State& state) { RunTable(state, AllNames()); }
void BM_CommandLookup_NaiveMapAllNames(benchmark::State& state) { RunNaiveMap(state, AllNames()); }
void BM_CommandLookup_TableUnknown(benchmark::State& state) { RunTable(state, UnknownNames()); }
void BM_CommandLookup_NaiveMapUnknown(benchmark::State& state) {
  RunNaiveMap(state, UnknownNames());
}
BENCHMARK(BM_CommandLookup_TableCommon);
BENCHMARK(BM_CommandLookup_NaiveMapCommon);
BENCHMARK(BM_CommandLookup_TableAllNames);
BENCHMARK(BM_CommandLookup_NaiveMapAllNames);
BENCHMARK(BM_CommandLookup_TableUnknown);
BENCHMARK(BM_CommandLookup_NaiveMapUnknown);

// Key collection for one command line; the vector is reused as a caller would.
void RunCollectKeys(benchmark::State& state, const std::vector<std::string>& line) {
  const std::vector<std::string_view> args(line.begin(), line.end());
  const CommandSpec* spec = LookupCommand(args[0]);
  std::vector<uint32_t> keys;
  keys.reserve(args.size());
  for ([[maybe_unused]] auto _ : state) {
    keys.clear();
    benchmark::DoNotOptimize(CollectKeys(*spec, args, &keys));
    benchmark::DoNotOptimize(keys.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CollectKeys_Get(benchmark::State& state) { RunCollectKeys(state, {"GET", "user:1000"}); }
void BM_CollectKeys_Mset16(benchmark::State& state) {
  std::vector<std::string> line = {"MSET"};
  for (int i = 0; i < 16; ++i) {
    line.push_back("key:" + std::to_string(i));
    line.emplace_back("value");
  }
  RunCollectKeys(state, line);
}
void BM_CollectKeys_Evalsha(benchmark::State& state) {
  RunCollectKeys(state, {"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "2", "a", "b",
                         "arg1", "arg2"});
}
void BM_CollectKeys_SortStore(benchmark::State& state) {
  RunCollectKeys(state,
                 {"SORT", "k", "BY", "w_*", "LIMIT", "0", "10", "GET", "#", "STORE", "dest"});
}
BENCHMARK(BM_CollectKeys_Get);
BENCHMARK(BM_CollectKeys_Mset16);
BENCHMARK(BM_CollectKeys_Evalsha);
BENCHMARK(BM_CollectKeys_SortStore);

}  // namespace
}  // namespace ringproxy::proxy
