// Replaces the global operator new and delete with counting ones. In a file of its own so that
// no compiler or analyzer sees a test's `new` expressions end in this file's malloc and free.
#include "tests/proxy/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t /*size*/) noexcept { std::free(p); }

namespace ringproxy::test_support {

size_t AllocationCount() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace ringproxy::test_support
