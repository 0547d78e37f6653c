// The key hash functions nutcracker offers, bit for bit, plus xxh3.
//
// Every function returns the same uint32 as nutcracker 0.5.0 on x86_64 for every input, including
// its quirks: bytes are read through `signed char` where nutcracker's C does (fnv*, one_at_a_time),
// so bytes >= 0x80 are sign-extended exactly as there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ringproxy::hashing {

// Declared in nutcracker's order (the order its error messages list), xxh3 last.
enum class HashKind : uint8_t {
  kOneAtATime,
  kMd5,
  kCrc16,
  kCrc32,
  kCrc32a,
  kFnv1_64,
  kFnv1a_64,
  kFnv1_32,
  kFnv1a_32,
  kHsieh,
  kMurmur,
  kJenkins,
  kXxh3,
};

using HashFn = uint32_t (*)(const char* data, size_t size);

// Config spelling ("fnv1a_64", "one_at_a_time", "xxh3", ...) to kind; nullopt when unknown.
std::optional<HashKind> ParseHashKind(std::string_view name);
std::string_view HashKindName(HashKind kind);
// Every config spelling, in declaration order (for error messages and tests).
std::span<const std::string_view> HashKindNames();

HashFn HashFunctionFor(HashKind kind);

inline uint32_t Hash(HashKind kind, std::string_view key) {
  return HashFunctionFor(kind)(key.data(), key.size());
}

}  // namespace ringproxy::hashing
