// Statistics as the workers count them: plain per-worker counters, each written by one worker
// thread only (relaxed load + store: an ordinary add on x86, no lock prefix, no cache line
// bouncing between cores) and read at scrape time by the stats thread, which sums the workers.
//
// Objects are created per (worker, pool) and (worker, pool, server) through StatsRegistry and
// shared with it, so the exporter can read a worker's counters even after that worker has
// dropped a server on reload.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ringproxy::proxy {

// A monotonically increasing count written by one thread.
class Counter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A level (connections, queue depth) written by one thread.
class Gauge {
 public:
  void Add(int64_t delta) {
    value_.store(value_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Latency histogram with fixed bucket bounds in microseconds (Prometheus `le` buckets).
class LatencyHistogram {
 public:
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      50,    100,   200,    500,    1000,   2000,    5000,    10000,
      20000, 50000, 100000, 200000, 500000, 1000000, 2000000, 5000000};

  void Observe(uint64_t micros) {
    size_t i = 0;
    while (i < kBoundsUs.size() && micros > kBoundsUs[i]) ++i;
    buckets_[i].Add();
    sum_us_.Add(micros);
  }
  // Non-cumulative count of bucket i; i == kBoundsUs.size() is the +Inf overflow.
  uint64_t bucket(size_t i) const { return buckets_[i].Get(); }
  uint64_t sum_us() const { return sum_us_.Get(); }

 private:
  std::array<Counter, kBoundsUs.size() + 1> buckets_;
  Counter sum_us_;
};

// What a request is, for the per-class request counts and latencies (a bounded label).
enum class CommandClass : uint8_t {
  kSingleKey,
  kMultiKey,
  kSplitGet,
  kSplitSet,
  kSplitCount,
  kLocal,
  kRejected,  // unsupported, unknown, wrong arity, cross-shard, not authenticated
  kCount,
};
std::string_view CommandClassName(CommandClass command_class);

struct ServerStats {
  std::string name;
  // nutcracker's server fields
  Counter server_eof;
  Counter server_err;
  Counter server_timedout;
  Gauge server_connections;
  Gauge server_ejected_at;  // unix seconds; 0 when not ejected
  Counter requests;
  Counter request_bytes;
  Counter responses;
  Counter response_bytes;
  Gauge in_queue;  // requests queued, not yet written
  Gauge in_queue_bytes;
  Gauge out_queue;  // requests written, awaiting their reply
  Gauge out_queue_bytes;
  // ringproxy's
  Counter connect_failures;
  Counter error_replies;  // -ERR/-... replies from the server itself
  LatencyHistogram latency;
};

struct PoolStats {
  std::string name;
  // nutcracker's pool fields
  Counter client_eof;
  Counter client_err;
  Gauge client_connections;
  Counter server_ejects;
  Counter forward_error;
  Counter fragments;
  // ringproxy's
  Counter client_connections_total;
  Counter client_protocol_errors;
  Counter client_rejected;       // refused at accept: max_clients or --max-clients reached
  Counter client_idle_timeouts;  // closed after client_idle_timeout without a request
  Gauge in_flight;
  std::array<Counter, static_cast<size_t>(CommandClass::kCount)> requests;
  std::array<LatencyHistogram, static_cast<size_t>(CommandClass::kCount)> latency;

  Counter& requests_of(CommandClass c) { return requests[static_cast<size_t>(c)]; }
  LatencyHistogram& latency_of(CommandClass c) { return latency[static_cast<size_t>(c)]; }
};

// Every worker's stats objects, for the exporter. Registration happens when a worker builds its
// pools (startup, reload), never per request.
class StatsRegistry {
 public:
  std::shared_ptr<PoolStats> RegisterPool(int worker, const std::string& pool);
  std::shared_ptr<ServerStats> RegisterServer(int worker, const std::string& pool,
                                              const std::string& server);

  struct Entry {
    int worker;
    std::string pool;
    std::shared_ptr<PoolStats> pool_stats;
    std::vector<std::shared_ptr<ServerStats>> servers;
  };
  // Calls `visit` for each (worker, pool) under the registry's lock.
  void ForEach(const std::function<void(const Entry&)>& visit) const;

 private:
  Entry& EntryFor(int worker, const std::string& pool);

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace ringproxy::proxy
