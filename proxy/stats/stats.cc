#include "stats/stats.h"

namespace ringproxy::proxy {

std::string_view CommandClassName(CommandClass command_class) {
  switch (command_class) {
    case CommandClass::kSingleKey:
      return "single_key";
    case CommandClass::kMultiKey:
      return "multi_key";
    case CommandClass::kSplitGet:
      return "mget";
    case CommandClass::kSplitSet:
      return "mset";
    case CommandClass::kSplitCount:
      return "multi_count";
    case CommandClass::kLocal:
      return "local";
    case CommandClass::kRejected:
      return "rejected";
    case CommandClass::kTransaction:
      return "transaction";
    case CommandClass::kFanOut:
      return "fan_out";
    case CommandClass::kCount:
      break;
  }
  return "unknown";
}

StatsRegistry::Entry& StatsRegistry::EntryFor(int worker, const std::string& pool) {
  for (Entry& entry : entries_) {
    if (entry.worker == worker && entry.pool == pool) return entry;
  }
  entries_.push_back(Entry{worker, pool, nullptr, {}});
  return entries_.back();
}

std::shared_ptr<PoolStats> StatsRegistry::RegisterPool(int worker, const std::string& pool) {
  std::lock_guard lock(mutex_);
  Entry& entry = EntryFor(worker, pool);
  if (entry.pool_stats == nullptr) {
    entry.pool_stats = std::make_shared<PoolStats>();
    entry.pool_stats->name = pool;
  }
  return entry.pool_stats;
}

std::shared_ptr<ServerStats> StatsRegistry::RegisterServer(int worker, const std::string& pool,
                                                           const std::string& server) {
  std::lock_guard lock(mutex_);
  Entry& entry = EntryFor(worker, pool);
  // A server that comes back after a reload keeps counting where it left off.
  for (const auto& existing : entry.servers) {
    if (existing->name == server) return existing;
  }
  auto stats = std::make_shared<ServerStats>();
  stats->name = server;
  entry.servers.push_back(stats);
  return stats;
}

void StatsRegistry::ForEach(const std::function<void(const Entry&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const Entry& entry : entries_) visit(entry);
}

}  // namespace ringproxy::proxy
