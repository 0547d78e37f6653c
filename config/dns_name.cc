#include "config/dns_name.h"

namespace ringproxy::config {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsDnsNameChar(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

}  // namespace

std::optional<std::string> CheckKubernetesName(std::string_view name) {
  bool valid = !name.empty() && name.size() <= kMaxDnsLabel && IsLowerAlnum(name.front()) &&
               IsLowerAlnum(name.back());
  for (const char c : name) {
    valid = valid && (IsLowerAlnum(c) || c == '-');
  }
  if (valid) {
    return std::nullopt;
  }
  return std::string(
      "is not a Kubernetes name: 1-63 lowercase letters, digits and '-', beginning and ending "
      "with a letter or digit");
}

std::optional<std::string> CheckDnsName(std::string_view name) {
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  if (name.size() > kMaxDnsName) {
    return "is not a DNS name: it is longer than " + std::to_string(kMaxDnsName) + " characters";
  }
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      return std::string(
          "is not a DNS name: it has an empty label (a dot at the start, or two "
          "in a row)");
    }
    const std::string quoted = "\"" + std::string(label) + "\"";
    if (label.size() > kMaxDnsLabel) {
      return "is not a DNS name: label " + quoted + " is longer than " +
             std::to_string(kMaxDnsLabel) + " characters";
    }
    for (const char c : label) {
      if (!IsDnsNameChar(c)) {
        return "is not a DNS name: label " + quoted +
               " holds a character other than letters, digits, '-' and '_'";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "is not a DNS name: label " + quoted + " begins or ends with '-'";
    }
    if (dot == std::string_view::npos) {
      return std::nullopt;
    }
    start = dot + 1;
  }
}

}  // namespace ringproxy::config
