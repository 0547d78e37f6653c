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
#include <bit>
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

// Positive bounds, each at least twice the one before.
template <size_t N>
constexpr bool EachBoundAtLeastTwiceThePrevious(const std::array<uint64_t, N>& bounds) {
  for (size_t i = 1; i < N; ++i) {
    if (bounds[i] < 2 * bounds[i - 1]) return false;
  }
  return N > 0 && bounds[0] > 0;
}

// `bounds` followed by a bound no value exceeds.
template <size_t N>
constexpr std::array<uint64_t, N + 1> WithMaxBound(const std::array<uint64_t, N>& bounds) {
  std::array<uint64_t, N + 1> all{};
  for (size_t i = 0; i < N; ++i) all[i] = bounds[i];
  all[N] = UINT64_MAX;
  return all;
}

// For each bit width w: the index of the first of `bounds` at least 2^(w-1), the least w-bit
// value (N when there is none).
template <size_t N>
constexpr std::array<uint8_t, 65> FirstBucketOfEachWidth(const std::array<uint64_t, N>& bounds) {
  std::array<uint8_t, 65> first{};
  for (size_t width = 0; width <= 64; ++width) {
    const uint64_t least = width == 0 ? 0 : uint64_t{1} << (width - 1);
    size_t i = 0;
    while (i < N && bounds[i] < least) ++i;
    first[width] = static_cast<uint8_t>(i);
  }
  return first;
}

// Latency histogram with fixed bucket bounds in microseconds (Prometheus `le` buckets).
class LatencyHistogram {
 public:
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      50,    100,   200,    500,    1000,   2000,    5000,    10000,
      20000, 50000, 100000, 200000, 500000, 1000000, 2000000, 5000000};

  void Observe(uint64_t micros) {
    buckets_[BucketOf(micros)].Add();
    sum_us_.Add(micros);
  }
  // The first bucket whose bound is at or above `micros`; kBoundsUs.size() (+Inf) past the last.
  // Two comparisons instead of a walk over the bounds (twice per request): each bound is at least
  // twice the one before, so the power-of-two range [2^(w-1), 2^w) of a w-bit value holds at most
  // one bound, and the value's bit width names the only bucket that can hold it or the next.
  static size_t BucketOf(uint64_t micros) {
    const size_t candidate = kFirstBucketOfWidth[std::bit_width(micros)];
    return candidate + (micros > kBoundOrMax[candidate] ? 1 : 0);
  }
  // Non-cumulative count of bucket i; i == kBoundsUs.size() is the +Inf overflow.
  uint64_t bucket(size_t i) const { return buckets_[i].Get(); }
  uint64_t sum_us() const { return sum_us_.Get(); }

 private:
  static_assert(EachBoundAtLeastTwiceThePrevious(kBoundsUs),
                "BucketOf needs each bound at least twice the one before");
  // kBoundsUs, then a bound no value exceeds for the +Inf bucket.
  static constexpr std::array<uint64_t, kBoundsUs.size() + 1> kBoundOrMax = WithMaxBound(kBoundsUs);
  // For each bit width w: the first bucket whose bound is at least 2^(w-1), the least w-bit value.
  static constexpr std::array<uint8_t, 65> kFirstBucketOfWidth = FirstBucketOfEachWidth(kBoundsUs);

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
  kRejected,     // unsupported, unknown, wrong arity, cross-shard, not authenticated
  kTransaction,  // MULTI, EXEC, DISCARD, WATCH, UNWATCH and the commands queued in between
  kFanOut,       // sent to every server (SCRIPT LOAD ...)
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
  Counter error_replies;     // -ERR/-... replies from the server itself
  Gauge pinned_connections;  // connections pinned to one client each (WATCH, blocking commands)
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
  Counter client_rejected;             // refused at accept: max_clients or --max-clients reached
  Counter client_idle_timeouts;        // closed after client_idle_timeout without a request
  Counter client_output_limit_closes;  // closed for not reading (client_output_buffer_limit)
  Counter client_handshake_timeouts;   // closed with their TLS handshake unfinished in time
  Counter client_auth_failures;        // AUTH (or HELLO AUTH) with a wrong password
  Gauge in_flight;
  Gauge blocked_clients;  // clients waiting for a blocking command's reply (BLPOP ...)
  Gauge subscriptions;    // channels, patterns and shard channels of the clients, each client's own
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
