#include "dataplane/pubsub_registry.h"

#include "dataplane/glob_match.h"

namespace ringproxy::proxy {

void PubSubRegistry::Pool::Add(SubscriptionKind kind, std::string_view name, int64_t delta) {
  std::lock_guard lock(mutex_);
  auto& counts = counts_[static_cast<size_t>(kind)];
  auto it = counts.find(std::string(name));
  if (it == counts.end()) {
    if (delta > 0) counts.emplace(std::string(name), delta);
    return;
  }
  it->second += delta;
  if (it->second <= 0) counts.erase(it);
}

int64_t PubSubRegistry::Pool::Receivers(SubscriptionKind kind, std::string_view channel) const {
  std::lock_guard lock(mutex_);
  const auto& counts = counts_[static_cast<size_t>(kind)];
  const auto it = counts.find(std::string(channel));
  int64_t receivers = it == counts.end() ? 0 : it->second;
  if (kind == SubscriptionKind::kChannel) {
    for (const auto& [pattern, count] : counts_[static_cast<size_t>(SubscriptionKind::kPattern)]) {
      if (GlobMatch(pattern, channel)) receivers += count;
    }
  }
  return receivers;
}

int64_t PubSubRegistry::Pool::Subscribers(SubscriptionKind kind, std::string_view name) const {
  std::lock_guard lock(mutex_);
  const auto& counts = counts_[static_cast<size_t>(kind)];
  const auto it = counts.find(std::string(name));
  return it == counts.end() ? 0 : it->second;
}

std::vector<std::string> PubSubRegistry::Pool::Names(SubscriptionKind kind,
                                                     const std::string* pattern) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, count] : counts_[static_cast<size_t>(kind)]) {
    if (pattern == nullptr || GlobMatch(*pattern, name)) names.push_back(name);
  }
  return names;
}

int64_t PubSubRegistry::Pool::Distinct(SubscriptionKind kind) const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(counts_[static_cast<size_t>(kind)].size());
}

PubSubRegistry::Pool* PubSubRegistry::ForPool(const std::string& pool) {
  std::lock_guard lock(mutex_);
  for (auto& [name, counts] : pools_) {
    if (name == pool) return counts.get();
  }
  pools_.emplace_back(pool, std::make_unique<Pool>());
  return pools_.back().second.get();
}

}  // namespace ringproxy::proxy
