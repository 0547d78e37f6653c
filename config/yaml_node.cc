#include "config/yaml_node.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <array>
#include <exception>
#include <sstream>

namespace ringproxy::config {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

SourceLocation ToLocation(const YAML::Mark& mark) {
  if (mark.is_null()) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsBreak(char c) { return c == '\r' || c == '\n'; }

// nutcracker's libyaml scanner refuses "---" and "..." (its token check disallows document start
// and end tokens). yaml-cpp's events do not say whether a document marker was written, so look
// for one the way YAML defines it: three characters at the start of a line, then a blank or the
// end of the line.
std::optional<SourceLocation> FindDocumentMarker(std::string_view text) {
  int line = 1;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view row = text.substr(start, end - start);
    if (row.starts_with("---") || row.starts_with("...")) {
      if (row.size() == 3 || IsBlank(row[3]) || IsBreak(row[3])) {
        return SourceLocation{line, 1};
      }
    }
    start = end + 1;
    ++line;
  }
  return std::nullopt;
}

// yaml-cpp turns a plain `~`, `null`, `Null` or `NULL` into a null event and drops the spelling,
// but nutcracker (libyaml) sees the word: `redis_auth: null` is the password "null" there. Read the
// word back from the text at the event's offset. An empty value also arrives as a null event,
// positioned at whatever token follows, so the word only counts when what follows it fits: a key
// is followed by ':', a value or a list item by a blank, a comment or the end of the line.
std::string NullSpelling(std::string_view text, size_t pos, bool is_key) {
  static constexpr std::array<std::string_view, 4> kWords = {"~", "null", "Null", "NULL"};
  if (pos >= text.size()) {
    return {};
  }
  for (const std::string_view word : kWords) {
    if (text.substr(pos, word.size()) != word) {
      continue;
    }
    size_t next = pos + word.size();
    if (next < text.size() && !IsBlank(text[next]) && !IsBreak(text[next]) && text[next] != ':') {
      continue;  // a longer plain word such as "null_key"
    }
    while (next < text.size() && IsBlank(text[next])) {
      ++next;
    }
    const bool colon_follows = next < text.size() && text[next] == ':';
    return colon_follows == is_key ? std::string(word) : std::string();
  }
  return {};
}

// yaml-cpp ends a quoted scalar that is never closed at the end of the text and raises no error;
// libyaml, and so nutcracker, refuses it. True when the quote opened at `pos` is closed.
bool QuoteIsClosed(std::string_view text, size_t pos) {
  const char quote = text[pos];
  for (size_t i = pos + 1; i < text.size(); ++i) {
    // A backslash escapes the next character inside double quotes; '' is a quote inside single
    // quotes. Either way the pair is skipped.
    const bool escape = quote == '"'
                            ? text[i] == '\\'
                            : text[i] == '\'' && i + 1 < text.size() && text[i + 1] == '\'';
    if (escape) {
      ++i;
    } else if (text[i] == quote) {
      return true;
    }
  }
  return false;
}

// Builds the tree from yaml-cpp's events. The first refusal wins: later events are ignored, and
// an exception yaml-cpp throws after it does not replace it.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(std::string_view text, FlowMappingAllowed flow_mapping_allowed)
      : text_(text), flow_mapping_allowed_(flow_mapping_allowed) {}

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (!Accept(mark, "?", anchor)) {
      return;
    }
    YamlNode node;
    node.where = ToLocation(mark);
    node.text = NullSpelling(text_, mark.pos, ExpectingKey());
    if (node.text.empty() && !ExpectingKey() && !open_.empty() &&
        open_.back().node.kind == YamlNode::Kind::kMapping && open_.back().pending_key) {
      // An empty value is positioned at the next token; the key says better where it is missing.
      node.where = open_.back().pending_key->where;
    }
    Add(std::move(node));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    Refuse(mark, "aliases (*name) are not accepted: nutcracker refuses them");
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!Accept(mark, tag, anchor)) {
      return;
    }
    const size_t pos = static_cast<size_t>(mark.pos);
    if (pos < text_.size() && (text_[pos] == '"' || text_[pos] == '\'') &&
        !QuoteIsClosed(text_, pos)) {
      Refuse(mark, std::string("YAML syntax error: the quoted value has no closing ") + text_[pos]);
      return;
    }
    YamlNode node;
    node.where = ToLocation(mark);
    node.text = value;
    Add(std::move(node));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    Open(mark, tag, anchor, style, YamlNode::Kind::kSequence);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    Open(mark, tag, anchor, style, YamlNode::Kind::kMapping);
  }
  void OnMapEnd() override { Close(); }

  bool refused() const { return refused_; }
  const SourceLocation& refusal_where() const { return refusal_where_; }
  const std::string& refusal() const { return refusal_; }
  std::optional<YamlNode> TakeRoot() { return std::move(root_); }

 private:
  struct OpenNode {
    YamlNode node;
    std::optional<YamlNode> pending_key;  // mappings: a key waiting for its value
  };

  void Refuse(const YAML::Mark& mark, std::string message) {
    if (!refused_) {
      refused_ = true;
      refusal_where_ = ToLocation(mark);
      refusal_ = std::move(message);
    }
  }

  // nutcracker's token check refuses anchors and tags outright. yaml-cpp reports "?" for an
  // untagged plain scalar and "!" for an untagged quoted one.
  bool Accept(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor) {
    if (refused_) {
      return false;
    }
    if (anchor != YAML::NullAnchor) {
      Refuse(mark, "anchors (&name) are not accepted: nutcracker refuses them");
      return false;
    }
    if (!tag.empty() && tag != "?" && tag != "!") {
      Refuse(mark, "tags (\"" + tag + "\") are not accepted: nutcracker refuses them");
      return false;
    }
    return true;
  }

  void Open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
            YAML::EmitterStyle::value style, YamlNode::Kind kind) {
    if (!Accept(mark, tag, anchor)) {
      return;
    }
    if (style == YAML::EmitterStyle::Flow &&
        !(kind == YamlNode::Kind::kMapping && FlowMappingAllowedHere())) {
      Refuse(mark, kind == YamlNode::Kind::kSequence
                       ? "flow lists (\"[...]\") are not accepted: nutcracker refuses them; "
                         "write one \"- item\" per line"
                       : "flow mappings (\"{...}\") are not accepted: nutcracker refuses them; "
                         "write one \"key: value\" per line");
      return;
    }
    OpenNode open;
    open.node.kind = kind;
    open.node.where = ToLocation(mark);
    open_.push_back(std::move(open));
  }

  // Directly under a pool (the root mapping, then the pool's mapping waiting for the value of a
  // directive the caller accepts). Anything nested deeper, including a flow collection inside the
  // flow mapping, stays refused.
  bool FlowMappingAllowedHere() const {
    if (flow_mapping_allowed_ == nullptr || open_.size() != 2) {
      return false;
    }
    const OpenNode& pool = open_[1];
    return open_[0].node.kind == YamlNode::Kind::kMapping &&
           pool.node.kind == YamlNode::Kind::kMapping && pool.pending_key &&
           pool.pending_key->kind == YamlNode::Kind::kScalar &&
           flow_mapping_allowed_(pool.pending_key->text);
  }

  void Close() {
    if (refused_ || open_.empty()) {
      return;
    }
    YamlNode node = std::move(open_.back().node);
    open_.pop_back();
    Add(std::move(node));
  }

  bool ExpectingKey() const {
    return !open_.empty() && open_.back().node.kind == YamlNode::Kind::kMapping &&
           !open_.back().pending_key;
  }

  void Add(YamlNode node) {
    if (open_.empty()) {
      root_ = std::move(node);
      return;
    }
    OpenNode& top = open_.back();
    if (top.node.kind == YamlNode::Kind::kSequence) {
      top.node.items.push_back(std::move(node));
    } else if (!top.pending_key) {
      top.pending_key = std::move(node);
    } else {
      top.node.entries.push_back(YamlEntry{std::move(*top.pending_key), std::move(node)});
      top.pending_key.reset();
    }
  }

  std::string_view text_;
  FlowMappingAllowed flow_mapping_allowed_;
  std::vector<OpenNode> open_;
  std::optional<YamlNode> root_;
  bool refused_ = false;
  SourceLocation refusal_where_;
  std::string refusal_;
};

YamlParseResult Failure(SourceLocation where, std::string message) {
  YamlParseResult result;
  result.failed = true;
  result.error_where = where;
  result.error = std::move(message);
  return result;
}

}  // namespace

YamlParseResult ParseYamlNode(std::string_view text, FlowMappingAllowed flow_mapping_allowed) {
  if (text.starts_with(kUtf8Bom)) {
    text.remove_prefix(kUtf8Bom.size());  // yaml-cpp's offsets start after it
  }
  if (const auto marker = FindDocumentMarker(text)) {
    return Failure(*marker,
                   "document markers (\"---\", \"...\") are not accepted: nutcracker refuses "
                   "them; a configuration is a single document without markers");
  }
  TreeBuilder builder(text, flow_mapping_allowed);
  bool had_document = false;
  try {
    std::istringstream input{std::string(text)};
    YAML::Parser parser(input);
    had_document = parser.HandleNextDocument(builder);
  } catch (const YAML::Exception& e) {
    if (!builder.refused()) {
      return Failure(ToLocation(e.mark), "YAML syntax error: " + e.msg);
    }
  } catch (const std::exception& e) {
    if (!builder.refused()) {
      return Failure({}, std::string("cannot parse YAML: ") + e.what());
    }
  }
  if (builder.refused()) {
    return Failure(builder.refusal_where(), builder.refusal());
  }
  YamlParseResult result;
  if (had_document) {
    result.root = builder.TakeRoot();
  }
  return result;
}

}  // namespace ringproxy::config
