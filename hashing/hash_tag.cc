#include "hashing/hash_tag.h"

namespace ringproxy::hashing {

std::string_view HashTagKey(std::string_view key, std::string_view hash_tag) {
  // nutcracker's config accepts only empty or two-character tags; anything shorter cannot delimit.
  if (hash_tag.size() < 2) {
    return key;
  }
  const size_t open = key.find(hash_tag[0]);
  if (open == std::string_view::npos) {
    return key;
  }
  // The closing character is searched only after the opening one, so a tag like "$$" works.
  const size_t close = key.find(hash_tag[1], open + 1);
  if (close == std::string_view::npos || close - open < 2) {
    return key;
  }
  return key.substr(open + 1, close - open - 1);
}

}  // namespace ringproxy::hashing
