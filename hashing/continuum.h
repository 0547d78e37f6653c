// Continuum: hash value -> server index, built once per topology and searched on every request.
//
// Ketama: nutcracker's ring (160 points per server at equal weights, from MD5 of "name-i", with its
// single-precision point-count arithmetic). Modula: `weight` consecutive slots per live server.
// Random: a uniformly random live server. Only live servers take part; indices always refer to the
// `servers` span given to Build, which must already be in nutcracker's order (NutcrackerNameLess).
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

  // `servers` is only read during the call.
  static Continuum Build(Distribution distribution, std::span<const ServerWeight> servers);

  // Index of the server owning `hash`, or kNoServer when no server is live.
  uint32_t ServerFor(uint32_t hash) const;

  Distribution distribution() const { return distribution_; }
  uint32_t live_count() const { return live_count_; }

 private:
  struct Point {
    uint32_t value;
    uint32_t server;
  };

  Distribution distribution_ = Distribution::kKetama;
  uint32_t live_count_ = 0;
  std::vector<Point> points_;     // ketama: sorted by value
  std::vector<uint32_t> slots_;   // modula: server per slot; random: live servers
};

}  // namespace ringproxy::hashing
