// Continuum: hash value -> server index, built once per topology and searched on every request.
//
// Ketama: nutcracker's ring (160 points per server at equal weights, from MD5 of "name-i", with its
// single-precision point-count arithmetic). Modula: `weight` consecutive slots per live server.
// Random: a uniformly random live server. Only live servers take part; indices always refer to the
// `servers` span given to Build, which must already be in nutcracker's order (NutcrackerNameLess).
//
// Ketama lookup is "first point with value >= hash, else the first point", as nutcracker's binary
// search. Rather than searching the whole ring, a bucket index keyed by the hash's top bits narrows
// the search to the few points sharing that prefix (about two on average; ring values are MD5
// output, so uniform), which keeps the lookup near one cache miss even for rings too big for L2.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "hashing/distribution.h"

namespace ringproxy::hashing {

struct ServerWeight {
  std::string_view name;  // the hashing name: explicit name, else "host:port"
  uint32_t weight = 1;
  bool live = true;
};

class Continuum {
 public:
  static constexpr uint32_t kNoServer = UINT32_MAX;

  // One ketama point: a ring position and the server index owning it.
  struct RingPoint {
    uint32_t value;
    uint32_t server;
    friend bool operator==(const RingPoint&, const RingPoint&) = default;
  };

  // `servers` is only read during the call. A server of weight 0 (the config rejects it) is
  // treated as not live.
  static Continuum Build(Distribution distribution, std::span<const ServerWeight> servers);

  // Index of the server owning `hash`, or kNoServer when no server is live. Random ignores
  // `hash`; it draws from a per-thread generator, so concurrent calls are safe.
  uint32_t ServerFor(uint32_t hash) const;

  Distribution distribution() const { return distribution_; }
  uint32_t live_count() const { return live_count_; }

  // Ketama: the ring in lookup order (by value; equal values by server index, the order
  // nutcracker's sort leaves them in). Empty for modula and random. For diagnostics and tests;
  // valid while this Continuum lives.
  std::span<const RingPoint> ring() const { return {points_.data(), point_count_}; }

 private:
  uint32_t KetamaServerFor(uint32_t hash) const;
  uint32_t ModulaServerFor(uint32_t hash) const;
  uint32_t RandomServerFor() const;

  void BuildKetama(std::span<const ServerWeight> servers, uint64_t total_weight);
  void BuildModula(std::span<const ServerWeight> servers, uint64_t total_weight);

  Distribution distribution_ = Distribution::kKetama;
  uint32_t live_count_ = 0;

  // Ketama.
  std::vector<RingPoint> points_;  // sorted by (value, server), then padding for the scan
  uint32_t point_count_ = 0;       // points_ without the padding
  // buckets_[b] = index of the first point with value >= b << bucket_shift_; one extra entry at
  // the end holds points_.size().
  std::vector<uint32_t> buckets_;
  uint32_t bucket_shift_ = 32;

  // Modula: `slots_` holds the server of each slot when the live weight is small enough for a
  // table; otherwise `cumulative_` holds each live server's end slot, paired with `live_servers_`.
  // Random: `live_servers_`.
  std::vector<uint32_t> slots_;
  uint64_t modulus_ = 0;
  uint64_t fastmod_multiplier_ = 0;  // ceil(2^64 / modulus_) for the table path
  std::vector<uint64_t> cumulative_;
  std::vector<uint32_t> live_servers_;
};

}  // namespace ringproxy::hashing
