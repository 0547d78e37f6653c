// Placement: key -> server index, the whole of nutcracker's routing decision in one value type:
// hash tag -> hash function -> continuum. Immutable once built; shared by every worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hashing/continuum.h"
#include "hashing/hash_function.h"

namespace ringproxy::hashing {

class Placement {
 public:
  // `server_count`: the size of the server span `continuum` was built from, live or not.
  // `hash_tag`: empty, or two characters (see HashTagKey).
  Placement(HashKind hash, std::string hash_tag, Continuum continuum, uint32_t server_count);

  // Index of the server that owns `key`, or Continuum::kNoServer when no server is live.
  // A pool of one server answers 0 without hashing, as nutcracker does; an empty key hashes to 0
  // rather than through the hash function, also as nutcracker does. Safe to call concurrently.
  uint32_t ServerFor(std::string_view key) const;

  HashKind hash() const { return hash_; }
  const std::string& hash_tag() const { return hash_tag_; }
  const Continuum& continuum() const { return continuum_; }

 private:
  HashKind hash_;
  HashFn hash_fn_;
  std::string hash_tag_;
  Continuum continuum_;
  uint32_t server_count_;
};

}  // namespace ringproxy::hashing
