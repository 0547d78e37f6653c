#include "tests/fuzz/split_points.h"

#include <algorithm>

namespace ringproxy::fuzz {

std::vector<size_t> SplitPoints(const uint8_t* data, size_t size, size_t max_points) {
  std::vector<size_t> points;
  if (size < 2 || max_points == 0) return points;
  // FNV-1a over the input, then a xorshift stream: cheap, deterministic, input-dependent.
  uint64_t state = 14695981039346656037ull;
  for (size_t i = 0; i < size; ++i) state = (state ^ data[i]) * 1099511628211ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const size_t count = 1 + next() % max_points;
  for (size_t i = 0; i < count; ++i) {
    // Half of the cuts land near the start, where headers are, and half anywhere.
    const uint64_t r = next();
    const size_t range = (r & 1) != 0 ? std::min<size_t>(size - 1, 16) : size - 1;
    points.push_back(1 + (r >> 1) % range);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

}  // namespace ringproxy::fuzz
