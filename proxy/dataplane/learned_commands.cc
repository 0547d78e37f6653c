#include "dataplane/learned_commands.h"

#include <algorithm>
#include <limits>

#include "dataplane/resp_value.h"

namespace ringproxy::proxy {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

int16_t Clamp16(int64_t value) {
  return static_cast<int16_t>(std::clamp<int64_t>(value, std::numeric_limits<int16_t>::min(),
                                                  std::numeric_limits<int16_t>::max()));
}

int32_t Clamp32(int64_t value) {
  return static_cast<int32_t>(std::clamp<int64_t>(value, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}

int32_t IntegerField(const RespValue& map, std::string_view key, int32_t otherwise) {
  const RespValue* value = map.Field(key);
  return value != nullptr && value->type == ':' ? Clamp32(value->integer) : otherwise;
}

// One key specification (a RESP2 map as a flat array); false for a kind the proxy cannot follow
// ("unknown" begin_search or find_keys: the command's own code finds its keys).
bool ReadKeySpec(const RespValue& map, KeySpec* spec) {
  const RespValue* begin = map.Field("begin_search");
  const RespValue* find = map.Field("find_keys");
  if (begin == nullptr || find == nullptr) return false;
  const RespValue* begin_type = begin->Field("type");
  const RespValue* begin_spec = begin->Field("spec");
  const RespValue* find_type = find->Field("type");
  const RespValue* find_spec = find->Field("spec");
  if (begin_type == nullptr || begin_spec == nullptr || find_type == nullptr ||
      find_spec == nullptr) {
    return false;
  }
  if (begin_type->text == "index") {
    spec->begin = KeySpec::Begin::kIndex;
    spec->index = IntegerField(*begin_spec, "index", 0);
    if (spec->index <= 0) return false;
  } else if (begin_type->text == "keyword") {
    spec->begin = KeySpec::Begin::kKeyword;
    const RespValue* keyword = begin_spec->Field("keyword");
    if (keyword == nullptr || !keyword->IsText()) return false;
    spec->keyword = keyword->text;
    spec->start_from = IntegerField(*begin_spec, "startfrom", 0);
  } else {
    return false;
  }
  if (find_type->text == "range") {
    spec->find = KeySpec::Find::kRange;
    spec->last_key = IntegerField(*find_spec, "lastkey", 0);
    spec->key_step = IntegerField(*find_spec, "keystep", 1);
    spec->limit = IntegerField(*find_spec, "limit", 0);
  } else if (find_type->text == "keynum") {
    spec->find = KeySpec::Find::kKeynum;
    spec->keynum_index = IntegerField(*find_spec, "keynumidx", 0);
    spec->first_key = IntegerField(*find_spec, "firstkey", 1);
    spec->key_step = IntegerField(*find_spec, "keystep", 1);
  } else {
    return false;
  }
  return spec->key_step > 0;
}

}  // namespace

bool LearnedCommands::Learnable(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '|' || c == ':';
  });
}

LearnedCommands::Lookup LearnedCommands::Find(std::string_view name, uint64_t now_ms) const {
  const auto it = entries_.find(Lower(name));
  if (it == entries_.end()) return {};
  const Entry& entry = *it->second;
  switch (entry.state) {
    case State::kKnown:
      return {State::kKnown, &entry.spec, {}};
    case State::kUnknown:
    case State::kFailed:
      if (now_ms >= entry.until_ms) return {};
      return {entry.state, nullptr, entry.error};
    default:
      return {entry.state, nullptr, {}};
  }
}

bool LearnedCommands::BeginLearning(std::string_view name) {
  std::string key = Lower(name);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxEntries) return false;
    it = entries_.emplace(key, std::make_unique<Entry>()).first;
    it->second->name = key;
  }
  it->second->state = State::kLearning;
  return true;
}

bool LearnedCommands::Describe(const RespValue& info, Entry* entry) {
  // [name, arity, flags, first key, last key, step, ACL categories, tips, key specs, ...]
  if (!info.IsArray() || info.items.size() < 6 || info.items[1].type != ':' ||
      !info.items[2].IsArray()) {
    return false;
  }
  bool refused = false;  // blocking and pub/sub commands would hold a shared connection
  for (const RespValue& flag : info.items[2].items) {
    if (flag.text == "blocking" || flag.text == "pubsub") refused = true;
  }
  entry->key_specs.clear();
  bool locatable = true;
  if (info.items.size() > 8 && info.items[8].IsArray()) {
    for (const RespValue& map : info.items[8].items) {
      KeySpec spec;
      if (!ReadKeySpec(map, &spec)) {
        locatable = false;
        break;
      }
      entry->key_specs.push_back(std::move(spec));
    }
  }
  CommandSpec& spec = entry->spec;
  spec = CommandSpec{};
  spec.name = entry->name;
  spec.arity = Clamp32(info.items[1].integer);
  if (spec.arity == 0) return false;
  spec.local = LocalCommand::kNone;
  spec.first_key = Clamp16(info.items[3].integer);
  spec.last_key = Clamp16(info.items[4].integer);
  spec.key_step = Clamp16(info.items[5].integer);
  spec.kind = refused || !locatable ? CommandKind::kUnsupported : CommandKind::kMultiKey;
  if (!entry->key_specs.empty()) {
    spec.key_pattern = KeyPattern::kKeySpecs;
    spec.key_specs = entry->key_specs.data();
    spec.key_spec_count = static_cast<uint16_t>(entry->key_specs.size());
  } else {
    // A server without key specifications (before Redis 7): the legacy range, when it is one.
    spec.key_pattern = KeyPattern::kRange;
    if (spec.first_key <= 0 || spec.key_step <= 0) spec.first_key = spec.last_key = 0;
  }
  return true;
}

void LearnedCommands::Learn(std::string_view name, std::span<const std::string> replies,
                            uint64_t now_ms) {
  const auto it = entries_.find(Lower(name));
  if (it == entries_.end()) return;
  Entry& entry = *it->second;
  bool answered = false;
  std::string error;
  for (const std::string& reply : replies) {
    const std::optional<RespValue> value = RespValue::Parse(reply);
    if (!value) continue;
    if (value->type == '-') {
      if (error.empty()) error = value->text;
      continue;
    }
    if (!value->IsArray() || value->items.size() != 1) continue;
    answered = true;
    if (Describe(value->items[0], &entry)) {
      entry.state = State::kKnown;
      return;
    }
  }
  if (answered) {
    entry.state = State::kUnknown;
    entry.until_ms = now_ms + kUnknownForMs;
  } else {
    entry.state = State::kFailed;
    entry.until_ms = now_ms + kFailedForMs;
    entry.error = "ERR the pool's servers could not be asked about '" + entry.name +
                  "': " + (error.empty() ? std::string("no reply") : error);
  }
}

}  // namespace ringproxy::proxy
