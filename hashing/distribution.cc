#include "hashing/distribution.h"

#include <array>

namespace ringproxy::hashing {
namespace {

// Indexed by Distribution; nutcracker's spellings, matched case-sensitively as nutcracker does.
constexpr std::array<std::string_view, 3> kNames = {"ketama", "modula", "random"};
static_assert(kNames.size() == static_cast<size_t>(Distribution::kRandom) + 1);

}  // namespace

std::optional<Distribution> ParseDistribution(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      return static_cast<Distribution>(i);
    }
  }
  return std::nullopt;
}

std::string_view DistributionName(Distribution distribution) {
  return kNames[static_cast<size_t>(distribution)];
}

}  // namespace ringproxy::hashing
