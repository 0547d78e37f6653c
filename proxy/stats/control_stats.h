// ControlStats: what the control thread counts (DNS discovery, configuration reloads), for the
// metrics exporter. Unlike the workers' counters (stats.h) these change rarely and may be bumped
// from more than one thread (a resolver callback, the reload path), so each is a plain shared
// atomic: the cost of a locked add is irrelevant at this rate.
//
// Ownership: RunProxy owns the one instance for the life of the process; whoever counts and the
// exporter only borrow it.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringproxy::proxy {

struct ControlStats {
  // Thread-safe, monotonic.
  class Count {
   public:
    void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<uint64_t> value_{0};
  };

  Count dns_resolutions;          // lookups of server names that answered
  Count dns_failures;             // lookups that failed (no answer, timeout, NXDOMAIN)
  Count dns_address_changes;      // a server's resolved address differed from the one in use
  Count config_reloads_ok;        // reloads applied
  Count config_reloads_rejected;  // reloads refused (invalid file, incompatible change)
};

}  // namespace ringproxy::proxy
