// ClientAdmission: the limits on client connections that span workers, a pool's max_clients and
// the process's --max-clients, enforced with counts every worker shares. A count moves once per
// accept and once per close, never per request, so one shared atomic per pool costs the request
// path nothing; per-worker counts could not enforce a limit, since the kernel, not ringproxy,
// spreads connections over the workers' listeners.
//
// Counts are kept per pool name for the life of this object: a reload that keeps a pool keeps
// its count (its clients stay connected), and a changed limit applies from the next accept.
// Connections already open are never closed by a lower limit; new ones wait until the count is
// below it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ringproxy::proxy {

class ClientAdmission {
 public:
  enum class Verdict : uint8_t {
    kAdmitted,     // counted until Release
    kPoolFull,     // the pool's limit is reached; nothing counted
    kProcessFull,  // the process's limit is reached; nothing counted
  };

  // `process_limit`: client connections over every pool at once; 0: no limit.
  explicit ClientAdmission(int64_t process_limit = 0);
  ClientAdmission(const ClientAdmission&) = delete;
  ClientAdmission& operator=(const ClientAdmission&) = delete;

  // Any thread; called when a worker builds a pool (startup, reload), not per connection. The
  // count of `pool`, the same object for the same name every time, valid as long as this object.
  std::atomic<int64_t>* PoolCount(const std::string& pool);

  // Any thread: counts one connection in `pool_count` and in the process's count, unless that
  // would take the pool past `pool_limit` (0: no limit) or the process past its limit. Two
  // workers admitting at once never both take the last slot.
  Verdict Admit(std::atomic<int64_t>* pool_count, int64_t pool_limit);
  // Any thread: an admitted connection has closed.
  void Release(std::atomic<int64_t>* pool_count);

  // Any thread; called when a worker builds a server, not per request. The count of server
  // connections pinned to clients (WATCH) for `server` of `pool`, shared by every worker.
  std::atomic<int64_t>* PinnedCount(const std::string& pool, const std::string& server);

  // Takes a slot in `count` unless that passes `limit` (0: none). Add first, then check: a check
  // before the add would let two threads both see the last free slot and both take it.
  static bool TakeSlot(std::atomic<int64_t>* count, int64_t limit);

  int64_t process_limit() const { return process_limit_; }
  int64_t process_count() const { return process_count_.load(std::memory_order_relaxed); }

 private:
  const int64_t process_limit_;
  std::atomic<int64_t> process_count_{0};
  std::mutex mutex_;  // guards pools_ (registration only)
  // unique_ptr: the atomics stay where they are as the vector grows.
  std::vector<std::pair<std::string, std::unique_ptr<std::atomic<int64_t>>>> pools_;
  // Keyed by pool name and server name, separated by a NUL (neither name can hold one).
  std::vector<std::pair<std::string, std::unique_ptr<std::atomic<int64_t>>>> pinned_;
};

}  // namespace ringproxy::proxy
