// SplitPoints: where to cut a fuzz input into the pieces a socket might deliver. The points come
// from a hash of the input itself, so every input always replays with the same pieces (a crash
// reproduces) while any mutation moves them; no input bytes are spent on choosing them, so the
// seed corpora stay plain protocol text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringproxy::fuzz {

// Sorted, distinct cut offsets strictly inside (0, size); at most `max_points` of them.
std::vector<size_t> SplitPoints(const uint8_t* data, size_t size, size_t max_points);

}  // namespace ringproxy::fuzz
