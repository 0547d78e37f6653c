#include "dataplane/client_admission.h"

namespace ringproxy::proxy {

bool ClientAdmission::TakeSlot(std::atomic<int64_t>* count, int64_t limit) {
  const int64_t now = count->fetch_add(1, std::memory_order_relaxed) + 1;
  if (limit > 0 && now > limit) {
    count->fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

ClientAdmission::ClientAdmission(int64_t process_limit) : process_limit_(process_limit) {}

std::atomic<int64_t>* ClientAdmission::PoolCount(const std::string& pool) {
  std::lock_guard lock(mutex_);
  for (const auto& [name, count] : pools_) {
    if (name == pool) return count.get();
  }
  pools_.emplace_back(pool, std::make_unique<std::atomic<int64_t>>(0));
  return pools_.back().second.get();
}

std::atomic<int64_t>* ClientAdmission::PinnedCount(const std::string& pool,
                                                   const std::string& server) {
  std::string key = pool;
  key.push_back('\0');
  key += server;
  std::lock_guard lock(mutex_);
  for (const auto& [name, count] : pinned_) {
    if (name == key) return count.get();
  }
  pinned_.emplace_back(std::move(key), std::make_unique<std::atomic<int64_t>>(0));
  return pinned_.back().second.get();
}

ClientAdmission::Verdict ClientAdmission::Admit(std::atomic<int64_t>* pool_count,
                                                int64_t pool_limit) {
  if (!TakeSlot(pool_count, pool_limit)) return Verdict::kPoolFull;
  if (!TakeSlot(&process_count_, process_limit_)) {
    pool_count->fetch_sub(1, std::memory_order_relaxed);
    return Verdict::kProcessFull;
  }
  return Verdict::kAdmitted;
}

void ClientAdmission::Release(std::atomic<int64_t>* pool_count) {
  pool_count->fetch_sub(1, std::memory_order_relaxed);
  process_count_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace ringproxy::proxy
