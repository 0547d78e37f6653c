#include "dataplane/glob_match.h"

#include <cstddef>
#include <utility>

namespace ringproxy::proxy {
namespace {

// Redis's rules, byte by byte, edge cases included (an empty text matches only an empty
// pattern). `nesting` bounds the recursion on '*' as Redis 7 does.
bool Match(std::string_view pattern, std::string_view text, int nesting) {
  if (nesting > 1000) return false;
  size_t p = 0;
  size_t t = 0;
  while (p < pattern.size() && t < text.size()) {
    switch (pattern[p]) {
      case '*': {
        while (p + 1 < pattern.size() && pattern[p + 1] == '*') ++p;
        if (p + 1 == pattern.size()) return true;
        for (size_t from = t; from < text.size(); ++from) {
          if (Match(pattern.substr(p + 1), text.substr(from), nesting + 1)) return true;
        }
        return false;
      }
      case '?':
        ++t;
        break;
      case '[': {
        ++p;
        const bool negate = p < pattern.size() && pattern[p] == '^';
        if (negate) ++p;
        bool matched = false;
        while (true) {
          if (p >= pattern.size()) {
            --p;  // an unclosed class ends with the pattern, as in Redis
            break;
          }
          if (pattern[p] == '\\' && p + 1 < pattern.size()) {
            ++p;
            if (pattern[p] == text[t]) matched = true;
          } else if (pattern[p] == ']') {
            break;
          } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
            unsigned char start = static_cast<unsigned char>(pattern[p]);
            unsigned char end = static_cast<unsigned char>(pattern[p + 2]);
            const auto c = static_cast<unsigned char>(text[t]);
            if (start > end) std::swap(start, end);
            p += 2;
            if (c >= start && c <= end) matched = true;
          } else if (pattern[p] == text[t]) {
            matched = true;
          }
          ++p;
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        ++t;
        break;
      }
      case '\\':
        if (p + 1 < pattern.size()) ++p;
        [[fallthrough]];
      default:
        if (pattern[p] != text[t]) return false;
        ++t;
        break;
    }
    ++p;
    if (t == text.size()) {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      break;
    }
  }
  return p == pattern.size() && t == text.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) { return Match(pattern, text, 0); }

}  // namespace ringproxy::proxy
