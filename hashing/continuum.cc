#include "hashing/continuum.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <string>

#include "hashing/byte_order.h"
#include "hashing/md5.h"

namespace ringproxy::hashing {
namespace {

constexpr uint32_t kKetamaPointsPerServer = 160;
constexpr uint32_t kKetamaPointsPerHash = 4;
// nutcracker formats "name-i" into a 273-byte buffer with snprintf: longer strings are cut to 272.
constexpr size_t kKetamaMaxHostLength = 272;
// Ring points examined per lookup when a bucket holds no more than this many (nearly always).
constexpr uint32_t kScanWidth = 4;
// Largest live weight served by a slot table (4 MiB); beyond it, binary search over weights.
constexpr uint64_t kMaxSlotTable = uint64_t{1} << 20;

// nutcracker's points for one server, computed exactly as it does: single precision throughout,
// with the double-precision epsilon added before the cast back to float.
uint32_t KetamaPointCount(uint32_t weight, uint64_t total_weight, uint32_t live_count) {
  const float pct = static_cast<float>(weight) / static_cast<float>(total_weight);
  const float scaled = pct * static_cast<float>(kKetamaPointsPerServer) /
                       static_cast<float>(kKetamaPointsPerHash) * static_cast<float>(live_count);
  const auto nudged = static_cast<float>(static_cast<double>(scaled) + 0.0000000001);
  return static_cast<uint32_t>(std::floor(nudged) * static_cast<float>(kKetamaPointsPerHash));
}

uint64_t NextRandom() {
  // splitmix64 per thread: no shared state, no lock, and better spread than rand().
  thread_local uint64_t state = [] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }();
  state += 0x9e3779b97f4a7c15;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// Unbiased enough for n << 2^32 and cheaper than `%`: scales a 32-bit draw into [0, n).
uint32_t RandomBelow(uint32_t n) { return static_cast<uint32_t>(((NextRandom() >> 32) * n) >> 32); }

}  // namespace

Continuum Continuum::Build(Distribution distribution, std::span<const ServerWeight> servers) {
  Continuum continuum;
  continuum.distribution_ = distribution;
  uint64_t total_weight = 0;
  for (uint32_t i = 0; i < servers.size(); ++i) {
    if (servers[i].live && servers[i].weight > 0) {
      ++continuum.live_count_;
      total_weight += servers[i].weight;
      continuum.live_servers_.push_back(i);
    }
  }
  if (total_weight == 0) {  // no live server: every weight counted is > 0
    return continuum;
  }
  switch (distribution) {
    case Distribution::kKetama:
      continuum.BuildKetama(servers, total_weight);
      continuum.live_servers_.clear();
      break;
    case Distribution::kModula:
      continuum.BuildModula(servers, total_weight);
      break;
    case Distribution::kRandom:
      break;
  }
  return continuum;
}

void Continuum::BuildKetama(std::span<const ServerWeight> servers, uint64_t total_weight) {
  // (value, server) packed so one integer sort gives nutcracker's order: its qsort (glibc's merge
  // sort, stable) keeps equal values in insertion order, which is server order.
  std::vector<uint64_t> packed;
  packed.reserve(static_cast<size_t>(live_count_) * kKetamaPointsPerServer);
  std::string host;
  for (const uint32_t server : live_servers_) {
    // "%.*s" stops at a NUL inside the name.
    std::string_view name = servers[server].name;
    name = name.substr(0, name.find('\0'));
    const uint32_t count = KetamaPointCount(servers[server].weight, total_weight, live_count_);
    for (uint32_t i = 0; i < count / kKetamaPointsPerHash; ++i) {
      host.assign(name);
      host += '-';
      host += std::to_string(i);
      if (host.size() > kKetamaMaxHostLength) {
        host.resize(kKetamaMaxHostLength);
      }
      const Md5Digest digest = Md5(host);
      for (uint32_t x = 0; x < kKetamaPointsPerHash; ++x) {
        const uint32_t value = LoadLe32(digest.data() + 4 * x);
        packed.push_back((static_cast<uint64_t>(value) << 32) | server);
      }
    }
  }
  std::sort(packed.begin(), packed.end());
  point_count_ = static_cast<uint32_t>(packed.size());
  points_.reserve(packed.size() + kScanWidth);
  for (const uint64_t p : packed) {
    points_.push_back({static_cast<uint32_t>(p >> 32), static_cast<uint32_t>(p)});
  }
  // Padding read by the fixed-width scan; UINT32_MAX is never below a hash.
  points_.insert(points_.end(), kScanWidth, RingPoint{UINT32_MAX, kNoServer});

  // About two points per bucket: a power of two not above the point count, at most 2^24 buckets.
  const uint32_t size = point_count_;
  const int bits = size < 2 ? 0 : std::min(static_cast<int>(std::bit_width(size)) - 1, 24);
  bucket_shift_ = 32 - bits;
  const uint32_t bucket_count = uint32_t{1} << bits;
  buckets_.resize(static_cast<size_t>(bucket_count) + 1);
  uint32_t point = 0;
  for (uint32_t b = 0; b < bucket_count; ++b) {
    const uint64_t start = static_cast<uint64_t>(b) << bucket_shift_;
    while (point < size && points_[point].value < start) {
      ++point;
    }
    buckets_[b] = point;
  }
  buckets_[bucket_count] = size;
}

void Continuum::BuildModula(std::span<const ServerWeight> servers, uint64_t total_weight) {
  modulus_ = total_weight;
  if (total_weight <= kMaxSlotTable) {
    slots_.reserve(total_weight);
    for (const uint32_t server : live_servers_) {
      slots_.insert(slots_.end(), servers[server].weight, server);
    }
    // Lemire's fastmod: exact `hash % modulus_` for 32-bit operands with two multiplications
    // instead of a division on the request path. Wraps to 0 for modulus 1, which still works.
    fastmod_multiplier_ = UINT64_MAX / total_weight + 1;
    live_servers_.clear();
    return;
  }
  uint64_t end = 0;
  for (const uint32_t server : live_servers_) {
    end += servers[server].weight;
    cumulative_.push_back(end);
  }
}

uint32_t Continuum::ServerFor(uint32_t hash) const {
  if (live_count_ == 0) {
    return kNoServer;
  }
  switch (distribution_) {
    case Distribution::kKetama:
      return KetamaServerFor(hash);
    case Distribution::kModula:
      return ModulaServerFor(hash);
    case Distribution::kRandom:
      return RandomServerFor();
  }
  return kNoServer;
}

// Inlined into ServerFor: a call per request for the common distribution is worth saving.
[[gnu::always_inline]] inline uint32_t Continuum::KetamaServerFor(uint32_t hash) const {
  if (point_count_ == 0) {
    return kNoServer;
  }
  // Points before buckets_[b] are below b << shift <= hash; points from buckets_[b + 1] on are at
  // or above (b + 1) << shift > hash. So the answer is the first point from buckets_[b] on that is
  // >= hash, and every point past the bucket qualifies.
  const auto b = static_cast<uint32_t>(static_cast<uint64_t>(hash) >> bucket_shift_);
  uint32_t index = buckets_[b];
  const uint32_t bucket_size = buckets_[b + 1] - index;
  if (bucket_size <= kScanWidth) [[likely]] {
    // Fixed-width, branch-free scan: points below `hash` form a prefix of the bucket and nothing
    // after the bucket (nor the UINT32_MAX padding) is below it, so counting them over a window
    // of kScanWidth gives the offset. A data-dependent loop here mispredicts on most lookups.
    const RingPoint* p = points_.data() + index;
    uint32_t below = 0;
    for (uint32_t k = 0; k < kScanWidth; ++k) {
      below += p[k].value < hash ? 1 : 0;
    }
    index += below;
  } else {
    index = static_cast<uint32_t>(
        std::lower_bound(points_.begin() + index, points_.begin() + index + bucket_size, hash,
                         [](const RingPoint& p, uint32_t h) { return p.value < h; }) -
        points_.begin());
  }
  if (index == point_count_) {
    index = 0;  // past the last point: wrap around the ring
  }
  return points_[index].server;
}

uint32_t Continuum::ModulaServerFor(uint32_t hash) const {
  if (!slots_.empty()) {
    const uint64_t low = fastmod_multiplier_ * hash;
    const auto slot = static_cast<uint32_t>((static_cast<unsigned __int128>(low) * modulus_) >> 64);
    return slots_[slot];
  }
  const uint64_t slot = hash % modulus_;
  const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), slot);
  return live_servers_[it - cumulative_.begin()];
}

uint32_t Continuum::RandomServerFor() const {
  return live_servers_[RandomBelow(static_cast<uint32_t>(live_servers_.size()))];
}

}  // namespace ringproxy::hashing
