#include "hashing/placement.h"

#include <utility>

#include "hashing/hash_tag.h"

namespace ringproxy::hashing {

Placement::Placement(HashKind hash, std::string hash_tag, Continuum continuum,
                     uint32_t server_count)
    : hash_(hash),
      hash_fn_(HashFunctionFor(hash)),
      hash_tag_(std::move(hash_tag)),
      continuum_(std::move(continuum)),
      server_count_(server_count) {}

uint32_t Placement::ServerFor(std::string_view key) const {
  // nutcracker refuses the request (ECONNREFUSED) before it even looks at the key when no server
  // is live, including a pool of one ejected server.
  if (continuum_.live_count() == 0) {
    return Continuum::kNoServer;
  }
  if (server_count_ == 1) {
    return 0;
  }
  if (continuum_.distribution() == Distribution::kRandom) {
    return continuum_.ServerFor(0);
  }
  // Most pools have no hash tag: no call to find out there is none.
  const std::string_view hashed = hash_tag_.empty() ? key : HashTagKey(key, hash_tag_);
  // nutcracker maps an empty key to hash 0 instead of hashing it (fnv1a_64("") is 0x84222325).
  const uint32_t hash = hashed.empty() ? 0 : hash_fn_(hashed.data(), hashed.size());
  return continuum_.ServerFor(hash);
}

}  // namespace ringproxy::hashing
