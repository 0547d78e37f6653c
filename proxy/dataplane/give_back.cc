#include "dataplane/give_back.h"

#include <vector>

#include "base/ascii.h"
#include "base/byte_buffer.h"
#include "base/decimal.h"
#include "dataplane/resp_value.h"
#include "dataplane/resp_writer.h"

namespace ringproxy::proxy {
namespace {

std::string Encode(const std::vector<std::string_view>& args) {
  ByteBuffer out;
  resp::AppendArrayHeader(&out, static_cast<int64_t>(args.size()));
  for (const std::string_view arg : args) resp::AppendBulk(&out, arg);
  return std::string(out.view());
}

// "LPUSH key e_n ... e_1": pushing the popped elements back in reverse leaves the list's end as
// it was before the pop.
std::string Push(std::string_view push, const std::string& key,
                 const std::vector<RespValue>& elements) {
  std::vector<std::string_view> command{push, key};
  for (auto it = elements.rbegin(); it != elements.rend(); ++it) {
    if (!it->IsText()) return {};
    command.emplace_back(it->text);
  }
  return command.size() > 2 ? Encode(command) : std::string();
}

// "ZADD key score member ..." from [member, score] pairs.
std::string Add(const std::string& key, const std::vector<const RespValue*>& pairs) {
  std::vector<std::string_view> command{"ZADD", key};
  for (const RespValue* pair : pairs) {
    if (!pair->IsArray() || pair->items.size() != 2 || !pair->items[0].IsText() ||
        !pair->items[1].IsText()) {
      return {};
    }
    command.emplace_back(pair->items[1].text);
    command.emplace_back(pair->items[0].text);
  }
  return command.size() > 2 ? Encode(command) : std::string();
}

// BLMPOP's and BZMPOP's direction or kind: the argument after the keys.
std::string_view AfterKeys(std::span<const std::string> args) {
  int64_t numkeys = 0;
  if (args.size() < 3 || !ParseDecimal(args[2], &numkeys) || numkeys < 1 ||
      static_cast<uint64_t>(numkeys) + 3 >= args.size()) {
    return {};
  }
  return args[3 + static_cast<size_t>(numkeys)];
}

}  // namespace

bool MayTake(const CommandSpec& spec) {
  const std::string_view name = spec.name;
  return name == "blpop" || name == "brpop" || name == "blmpop" || name == "bzpopmin" ||
         name == "bzpopmax" || name == "bzmpop";
}

std::string GiveBackCommand(std::span<const std::string> args, std::string_view reply) {
  if (args.empty() || reply.empty() || reply.front() != '*') return {};
  const std::optional<RespValue> value = RespValue::Parse(reply);
  if (!value || !value->IsArray() || value->items.empty() || !value->items[0].IsText()) return {};
  const std::vector<RespValue>& items = value->items;
  const std::string& key = items[0].text;
  const std::string name = ascii::Lower(args[0]);
  if (name == "blpop" || name == "brpop") {
    if (items.size() != 2) return {};
    return Push(name == "blpop" ? "LPUSH" : "RPUSH", key, {items[1]});
  }
  if (name == "blmpop") {
    if (items.size() != 2 || !items[1].IsArray()) return {};
    const std::string direction = ascii::Upper(AfterKeys(args));
    if (direction != "LEFT" && direction != "RIGHT") return {};
    return Push(direction == "LEFT" ? "LPUSH" : "RPUSH", key, items[1].items);
  }
  if (name == "bzpopmin" || name == "bzpopmax") {
    if (items.size() != 3 || !items[1].IsText() || !items[2].IsText()) return {};
    return Encode({"ZADD", key, items[2].text, items[1].text});
  }
  if (name == "bzmpop") {
    if (items.size() != 2 || !items[1].IsArray()) return {};
    std::vector<const RespValue*> pairs;
    for (const RespValue& pair : items[1].items) pairs.push_back(&pair);
    return Add(key, pairs);
  }
  return {};
}

}  // namespace ringproxy::proxy
