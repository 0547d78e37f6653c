// Sizes as Redis writes them in redis.conf (memtoull): a number of bytes, optionally followed by
// a unit in any letter case: k/m/g are powers of 1000, kb/mb/gb powers of 1024 ("32mb", "1gb",
// "512k"). Redis users already write client-output-buffer-limit so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/pool_config.h"

namespace ringproxy::config {

// The size in bytes, or nullopt with `*reason` set to a phrase that follows the quoted text in a
// message ("is not a size: ...").
std::optional<uint64_t> ParseByteSize(std::string_view text, std::string* reason);

// Redis's "<hard> <soft> <soft seconds>" (client-output-buffer-limit without the class), e.g.
// "1gb 32mb 60"; 0 turns a limit off.
std::optional<OutputBufferLimit> ParseOutputBufferLimit(std::string_view text, std::string* reason);

}  // namespace ringproxy::config
