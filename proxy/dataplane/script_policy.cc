#include "dataplane/script_policy.h"

#include <array>
#include <string>

#include "base/ascii.h"
#include "dataplane/command_table.h"

namespace ringproxy::proxy {
namespace {

constexpr std::array<std::string_view, 8> kScriptCommands = {
    "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "script", "function"};

bool EqualsLowercase(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

bool ScriptsRefused(const config::PoolConfig& pool, std::string_view command) {
  if (!pool.refuse_scripts) return false;
  for (const std::string_view script : kScriptCommands) {
    if (EqualsLowercase(command, script)) return true;
  }
  return false;
}

std::string ScriptsRefusedError(std::string_view command) {
  return "ERR " + ascii::Upper(command) +
         " is refused through this proxy: the pool refuses scripts";
}

}  // namespace ringproxy::proxy
