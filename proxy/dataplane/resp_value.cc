#include "dataplane/resp_value.h"

#include "base/decimal.h"

namespace ringproxy::proxy {
namespace {

class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : bytes_(bytes) {}

  bool Read(RespValue* out, int depth) {
    if (depth < 0 || pos_ >= bytes_.size()) return false;
    out->type = bytes_[pos_];
    std::string_view line;
    if (!Line(&line)) return false;
    switch (out->type) {
      case '+':
      case '-':
      case ',':  // RESP3's double, as its text (BZPOPMIN's score)
        out->text = std::string(line);
        return true;
      case '_':  // RESP3's null
        out->null = true;
        return line.empty();
      case ':':
        return ParseDecimal(line, &out->integer);
      case '$': {
        int64_t length = 0;
        if (!ParseDecimal(line, &length) || length < -1) return false;
        if (length == -1) {
          out->null = true;
          return true;
        }
        const auto size = static_cast<size_t>(length);
        if (bytes_.size() - pos_ < size + 2 || bytes_.substr(pos_ + size, 2) != "\r\n") {
          return false;
        }
        out->text = std::string(bytes_.substr(pos_, size));
        pos_ += size + 2;
        return true;
      }
      case '*': {
        int64_t count = 0;
        if (!ParseDecimal(line, &count) || count < -1) return false;
        if (count == -1) {
          out->null = true;
          return true;
        }
        // Each element takes at least three bytes: a count past that is a lie.
        if (static_cast<uint64_t>(count) > (bytes_.size() - pos_) / 3) return false;
        out->items.resize(static_cast<size_t>(count));
        for (RespValue& item : out->items) {
          if (!Read(&item, depth - 1)) return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  // The line after the type byte, up to CRLF; pos_ moves past it.
  bool Line(std::string_view* line) {
    const size_t end = bytes_.find("\r\n", pos_);
    if (end == std::string_view::npos) return false;
    *line = bytes_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 2;
    return true;
  }

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<RespValue> RespValue::Parse(std::string_view bytes, int max_depth) {
  Decoder decoder(bytes);
  RespValue value;
  if (!decoder.Read(&value, max_depth) || !decoder.AtEnd()) return std::nullopt;
  return value;
}

const RespValue* RespValue::Field(std::string_view key) const {
  if (!IsArray()) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].IsText() && items[i].text == key) return &items[i + 1];
  }
  return nullptr;
}

}  // namespace ringproxy::proxy
