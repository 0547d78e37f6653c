#include "dataplane/key_spec.h"

#include "base/ascii.h"
#include "base/decimal.h"

namespace ringproxy::proxy {
namespace {

// Where the spec's keys start: an argument index, 0 when a keyword is absent (no keys from this
// spec), -1 when the spec cannot apply.
int64_t BeginSearch(const KeySpec& spec, std::span<const std::string_view> args) {
  const auto argc = static_cast<int64_t>(args.size());
  if (spec.begin == KeySpec::Begin::kIndex) return spec.index;
  if (spec.start_from == 0) return -1;
  // Forwards from start_from, or backwards from argc + start_from (a negative start_from).
  const int64_t start = spec.start_from > 0 ? spec.start_from : argc + spec.start_from;
  const int64_t step = spec.start_from > 0 ? 1 : -1;
  for (int64_t i = start; i >= 1 && i < argc; i += step) {
    if (ascii::EqualsIgnoreCase(args[static_cast<size_t>(i)], spec.keyword)) return i + 1;
  }
  return 0;
}

}  // namespace

KeyScan FindKeysBySpecs(std::span<const KeySpec> specs, std::span<const std::string_view> args,
                        std::vector<uint32_t>* keys) {
  const size_t before = keys->size();
  const auto argc = static_cast<int64_t>(args.size());
  auto fail = [&] {
    keys->resize(before);
    return KeyScan::kSyntaxError;
  };
  for (const KeySpec& spec : specs) {
    int64_t first = BeginSearch(spec, args);
    if (first < 0) return fail();
    if (first == 0) continue;  // its keyword is not there: this spec names no key
    int64_t last = 0;
    if (spec.find == KeySpec::Find::kRange) {
      if (spec.last_key >= 0) {
        last = first + spec.last_key;
      } else if (spec.limit <= 0) {
        last = argc + spec.last_key;
      } else {
        // The rest of the arguments, of which one in `limit` starts a key group.
        last = first + (argc - first) / spec.limit + spec.last_key;
      }
    } else {
      const int64_t count_at = first + spec.keynum_index;
      if (count_at >= argc) return fail();
      int64_t count = 0;
      if (!ParseDecimal(args[static_cast<size_t>(count_at)], &count) || count < 0) return fail();
      first += spec.first_key;
      last = first + count - 1;
      if (count == 0) continue;
    }
    if (spec.key_step <= 0 || first >= argc || last >= argc || last < first) return fail();
    for (int64_t i = first; i <= last; i += spec.key_step) {
      keys->push_back(static_cast<uint32_t>(i));
    }
  }
  return KeyScan::kOk;
}

}  // namespace ringproxy::proxy
