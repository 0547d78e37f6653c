// Counts the program's heap allocations, for tests that prove a path allocates nothing. Linking
// allocation_counter.cc into a test binary replaces the global operator new for the whole binary.
#pragma once

#include <cstddef>

namespace ringproxy::test_support {

// Calls of the global operator new (any form that forwards to it) since the program started.
size_t AllocationCount();

}  // namespace ringproxy::test_support
