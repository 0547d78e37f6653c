#include "config/byte_size.h"

#include <cctype>
#include <vector>

namespace ringproxy::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr Unit kUnits[] = {
    {"b", 1},
    {"k", 1000},
    {"kb", 1024},
    {"m", 1000 * 1000},
    {"mb", 1024 * 1024},
    {"g", 1000 * 1000 * 1000},
    {"gb", uint64_t{1024} * 1024 * 1024},
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::optional<uint64_t> ParseByteSize(std::string_view text, std::string* reason) {
  size_t digits = 0;
  uint64_t value = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    const uint64_t digit = static_cast<uint64_t>(text[digits] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      *reason = "is too large";
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  if (digits == 0) {
    *reason = "is not a size (bytes, or a number with a unit k, kb, m, mb, g or gb)";
    return std::nullopt;
  }
  const std::string_view unit = text.substr(digits);
  uint64_t factor = 1;
  if (!unit.empty()) {
    factor = 0;
    for (const Unit& candidate : kUnits) {
      if (EqualsIgnoreCase(unit, candidate.name)) factor = candidate.factor;
    }
    if (factor == 0) {
      *reason = "has an unknown unit (k, kb, m, mb, g or gb)";
      return std::nullopt;
    }
  }
  if (value > UINT64_MAX / factor) {
    *reason = "is too large";
    return std::nullopt;
  }
  return value * factor;
}

std::optional<OutputBufferLimit> ParseOutputBufferLimit(std::string_view text,
                                                        std::string* reason) {
  const std::vector<std::string_view> words = Words(text);
  if (words.size() != 3) {
    *reason = "is not \"<hard> <soft> <soft seconds>\" (e.g. \"1gb 32mb 10\")";
    return std::nullopt;
  }
  OutputBufferLimit limit;
  const std::optional<uint64_t> hard = ParseByteSize(words[0], reason);
  if (!hard) return std::nullopt;
  const std::optional<uint64_t> soft = ParseByteSize(words[1], reason);
  if (!soft) return std::nullopt;
  uint64_t seconds = 0;
  for (const char c : words[2]) {
    if (c < '0' || c > '9' || seconds > 100000000) {
      *reason = "has soft seconds that are not a number of seconds";
      return std::nullopt;
    }
    seconds = seconds * 10 + static_cast<uint64_t>(c - '0');
  }
  if (*hard != 0 && *soft > *hard) {
    *reason = "has a soft limit above its hard limit";
    return std::nullopt;
  }
  limit.hard_bytes = *hard;
  limit.soft_bytes = *soft;
  limit.soft_seconds = seconds;
  return limit;
}

}  // namespace ringproxy::config
