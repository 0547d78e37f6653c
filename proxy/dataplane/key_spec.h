// KeySpec: where a command's keys are, as Redis 7 describes them in COMMAND INFO ("key
// specifications"): a way to find where the keys begin (at an index, or after a keyword) and a
// way to find how many there are (a range, or a count given in the arguments). The proxy learns
// commands its own table does not know (a newer Redis, Valkey, a module) from these, so it can
// route them by their keys without a release of its own.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/command_table.h"

namespace ringproxy::proxy {

struct KeySpec {
  enum class Begin : uint8_t { kIndex, kKeyword };
  enum class Find : uint8_t { kRange, kKeynum };

  Begin begin = Begin::kIndex;
  int32_t index = 0;       // kIndex: the first key's position
  std::string keyword;     // kKeyword: the keys follow this argument (any case)
  int32_t start_from = 0;  // kKeyword: where the search starts; negative counts from the end
                           // and searches backwards
  Find find = Find::kRange;
  int32_t last_key = 0;      // kRange: the last key relative to the first; negative: from the
                             // end of the arguments
  int32_t key_step = 1;      // both: keys are every key_step arguments
  int32_t limit = 0;         // kRange with last_key -1: only 1/limit of the rest are keys
  int32_t keynum_index = 0;  // kKeynum: the count is at first + keynum_index
  int32_t first_key = 0;     // kKeynum: the keys start at first + first_key
};

// Appends the index of every key in `args` (args[0] the command name) that `specs` name, in spec
// order. kOk also when the specs name no key here (EVAL ... 0): the caller sees an empty list.
// kSyntaxError when the arguments do not fit a spec (a keyword's count out of range, keys past
// the end): Redis itself would refuse the command. On any result but kOk, `keys` is unchanged.
KeyScan FindKeysBySpecs(std::span<const KeySpec> specs, std::span<const std::string_view> args,
                        std::vector<uint32_t>* keys);

}  // namespace ringproxy::proxy
