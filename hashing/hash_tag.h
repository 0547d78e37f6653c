#pragma once

#include <string_view>

namespace ringproxy::hashing {

// The part of `key` that is hashed, exactly as nutcracker extracts it: with a two-character
// `hash_tag` such as "{}", the text between the first tag[0] and the first tag[1] after it when
// both are found and that text is non-empty; otherwise (or with an empty hash_tag) the whole key.
// The result views `key`; nothing is copied.
std::string_view HashTagKey(std::string_view key, std::string_view hash_tag);

}  // namespace ringproxy::hashing
