// RespValue: a RESP2 reply decoded into a tree, for the few replies the proxy reads itself
// (COMMAND INFO when it learns a command, what a blocking command took for a client that left:
// that one may be RESP3, whose null and double it reads too). Never on the request path: replies to
// clients are forwarded as bytes, not decoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringproxy::proxy {

struct RespValue {
  char type = 0;  // '+', '-', ':', '$', '*', and RESP3's '_' (null) and ',' (double)
  bool null = false;
  std::string text;  // '+', '-', '$', ','
  int64_t integer = 0;
  std::vector<RespValue> items;  // '*'

  // The whole of `bytes` as one reply; nullopt when it is not exactly one well-formed reply or
  // nests deeper than `max_depth`.
  static std::optional<RespValue> Parse(std::string_view bytes, int max_depth = 32);

  bool IsArray() const { return type == '*' && !null; }
  bool IsText() const { return (type == '$' || type == '+' || type == ',') && !null; }
  // In a flat [key, value, key, value ...] array (a RESP2 map): the value after `key`.
  const RespValue* Field(std::string_view key) const;
};

}  // namespace ringproxy::proxy
