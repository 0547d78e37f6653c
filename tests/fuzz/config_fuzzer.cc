// Fuzz target: config::LoadConfigString on arbitrary text, as a nutcracker.yml.
//
// Properties checked on every input: loading never crashes and never lets an exception out
// (one escaping would terminate the process); it never needs its last-resort handler either
// (that handler turns an exception into an error without a location, and only allocation
// failure is meant to reach it); every error names the file and a line:column inside the text
// (the empty document, which has no position, aside); a success holds at least one pool; and
// loading the same text twice gives the same answer.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config_loader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kFileName = "fuzz.yml";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ringproxy::config::LoadConfigString;
  using ringproxy::config::LoadResult;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const LoadResult result = LoadConfigString(text, kFileName);
  if (result.ok()) {
    FUZZ_CHECK(!result.config->pools.empty(), "a configuration without pools loaded");
  } else {
    const auto& error = result.error;
    FUZZ_CHECK(!error.message.empty(), "an error without a message");
    FUZZ_CHECK(error.file == kFileName, "an error naming file '%s'", error.file.c_str());
    FUZZ_CHECK(!error.message.starts_with("cannot load the configuration"),
               "an exception reached the loader's last-resort handler: %s", error.message.c_str());
    if (error.where.line == 0) {
      FUZZ_CHECK(error.message.starts_with("has no pools: the file is empty"),
                 "an error without a location: %s", error.ToString().c_str());
    } else {
      const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
      FUZZ_CHECK(error.where.line >= 1 && error.where.line <= lines && error.where.column >= 1,
                 "error at %d:%d in a text of %d lines: %s", error.where.line, error.where.column,
                 lines, error.ToString().c_str());
    }
  }
  const LoadResult again = LoadConfigString(text, kFileName);
  FUZZ_CHECK(again.ok() == result.ok() && again.error.ToString() == result.error.ToString(),
             "loading the same text twice: '%s' then '%s'", result.error.ToString().c_str(),
             again.error.ToString().c_str());
  return 0;
}
