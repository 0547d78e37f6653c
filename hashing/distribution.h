#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringproxy::hashing {

enum class Distribution : uint8_t { kKetama, kModula, kRandom };

std::optional<Distribution> ParseDistribution(std::string_view name);
std::string_view DistributionName(Distribution distribution);

}  // namespace ringproxy::hashing
