#include "dataplane/resp_writer.h"

#include <charconv>
#include <cstring>

namespace ringproxy::proxy::resp {
namespace {

void AppendPrefixedNumber(ByteBuffer* out, char prefix, int64_t value) {
  char* dst = out->PrepareAppend(24);
  dst[0] = prefix;
  char* end = std::to_chars(dst + 1, dst + 22, value).ptr;
  end[0] = '\r';
  end[1] = '\n';
  out->Commit(static_cast<size_t>(end + 2 - dst));
}

void AppendLine(ByteBuffer* out, char prefix, std::string_view text) {
  char* dst = out->PrepareAppend(text.size() + 3);
  dst[0] = prefix;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    dst[i + 1] = (c == '\r' || c == '\n') ? ' ' : c;
  }
  dst[text.size() + 1] = '\r';
  dst[text.size() + 2] = '\n';
  out->Commit(text.size() + 3);
}

}  // namespace

void AppendSimple(ByteBuffer* out, std::string_view text) { AppendLine(out, '+', text); }

void AppendError(ByteBuffer* out, std::string_view text) { AppendLine(out, '-', text); }

void AppendInteger(ByteBuffer* out, int64_t value) { AppendPrefixedNumber(out, ':', value); }

void AppendBulk(ByteBuffer* out, std::string_view value) {
  AppendPrefixedNumber(out, '$', static_cast<int64_t>(value.size()));
  char* dst = out->PrepareAppend(value.size() + 2);
  if (!value.empty()) std::memcpy(dst, value.data(), value.size());
  dst[value.size()] = '\r';
  dst[value.size() + 1] = '\n';
  out->Commit(value.size() + 2);
}

void AppendNullBulk(ByteBuffer* out) { out->Append("$-1\r\n", 5); }

void AppendArrayHeader(ByteBuffer* out, int64_t count) { AppendPrefixedNumber(out, '*', count); }

void AppendNull(ByteBuffer* out, Protocol protocol) {
  if (protocol == Protocol::kResp3) {
    out->Append("_\r\n", 3);
  } else {
    AppendNullBulk(out);
  }
}

void AppendMapHeader(ByteBuffer* out, int64_t pairs, Protocol protocol) {
  if (protocol == Protocol::kResp3) {
    AppendPrefixedNumber(out, '%', pairs);
  } else {
    AppendArrayHeader(out, pairs * 2);
  }
}

void AppendSetHeader(ByteBuffer* out, int64_t count, Protocol protocol) {
  AppendPrefixedNumber(out, protocol == Protocol::kResp3 ? '~' : '*', count);
}

void AppendVerbatimText(ByteBuffer* out, std::string_view text, Protocol protocol) {
  if (protocol != Protocol::kResp3) {
    AppendBulk(out, text);
    return;
  }
  constexpr std::string_view kFormat = "txt:";
  AppendPrefixedNumber(out, '=', static_cast<int64_t>(kFormat.size() + text.size()));
  out->Append(kFormat.data(), kFormat.size());
  out->Append(text.data(), text.size());
  out->Append("\r\n", 2);
}

}  // namespace ringproxy::proxy::resp
