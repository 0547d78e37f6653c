// Learning commands from COMMAND INFO: the reply decoded (RespValue), key specifications followed
// as Redis follows them (FindKeysBySpecs), and the learned table's states (LearnedCommands).
#include "dataplane/learned_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/key_spec.h"
#include "dataplane/resp_value.h"

namespace ringproxy::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string Bulk(std::string_view text) {
  return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
}
std::string Int(int64_t value) { return ":" + std::to_string(value) + "\r\n"; }
std::string Arr(std::initializer_list<std::string> items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) out += item;
  return out;
}
std::string Flags(std::initializer_list<std::string_view> flags) {
  std::string out = "*" + std::to_string(flags.size()) + "\r\n";
  for (const std::string_view flag : flags) out += "+" + std::string(flag) + "\r\n";
  return out;
}

std::string IndexRange(int index, int last, int step, int limit) {
  return Arr({Bulk("flags"), Flags({"RW"}), Bulk("begin_search"),
              Arr({Bulk("type"), Bulk("index"), Bulk("spec"), Arr({Bulk("index"), Int(index)})}),
              Bulk("find_keys"),
              Arr({Bulk("type"), Bulk("range"), Bulk("spec"),
                   Arr({Bulk("lastkey"), Int(last), Bulk("keystep"), Int(step), Bulk("limit"),
                        Int(limit)})})});
}

std::string KeywordRange(std::string_view keyword, int from, int last, int step, int limit) {
  return Arr({Bulk("flags"), Flags({"RO"}), Bulk("begin_search"),
              Arr({Bulk("type"), Bulk("keyword"), Bulk("spec"),
                   Arr({Bulk("keyword"), Bulk(keyword), Bulk("startfrom"), Int(from)})}),
              Bulk("find_keys"),
              Arr({Bulk("type"), Bulk("range"), Bulk("spec"),
                   Arr({Bulk("lastkey"), Int(last), Bulk("keystep"), Int(step), Bulk("limit"),
                        Int(limit)})})});
}

std::string IndexKeynum(int index, int keynum_index, int first, int step) {
  return Arr({Bulk("flags"), Flags({"RW"}), Bulk("begin_search"),
              Arr({Bulk("type"), Bulk("index"), Bulk("spec"), Arr({Bulk("index"), Int(index)})}),
              Bulk("find_keys"),
              Arr({Bulk("type"), Bulk("keynum"), Bulk("spec"),
                   Arr({Bulk("keynumidx"), Int(keynum_index), Bulk("firstkey"), Int(first),
                        Bulk("keystep"), Int(step)})})});
}

// One COMMAND INFO entry as Redis 7 sends it.
std::string Entry(std::string_view name, int arity, std::initializer_list<std::string_view> flags,
                  std::initializer_list<std::string> key_specs) {
  std::string specs = "*" + std::to_string(key_specs.size()) + "\r\n";
  for (const std::string& spec : key_specs) specs += spec;
  return Arr({Bulk(name), Int(arity), Flags(flags), Int(1), Int(1), Int(1), Arr({}), Arr({}), specs,
              Arr({})});
}

KeySpec Spec(const std::string& map_bytes) {
  // Decoded the way LearnedCommands decodes it, through a one-command table.
  LearnedCommands learned;
  EXPECT_TRUE(learned.BeginLearning("cmd"));
  const std::vector<std::string> replies = {Arr({Entry("cmd", -2, {"write"}, {map_bytes})})};
  learned.Learn("cmd", replies, 0);
  const LearnedCommands::Lookup lookup = learned.Find("cmd", 0);
  EXPECT_EQ(lookup.state, LearnedCommands::State::kKnown);
  EXPECT_EQ(lookup.spec->key_spec_count, 1);
  return lookup.spec->key_specs[0];
}

std::vector<uint32_t> Keys(const KeySpec& spec, std::initializer_list<std::string_view> line,
                           KeyScan expected = KeyScan::kOk) {
  const std::vector<std::string_view> args(line);
  std::vector<uint32_t> keys;
  EXPECT_EQ(FindKeysBySpecs(std::span<const KeySpec>(&spec, 1), args, &keys), expected);
  return keys;
}

TEST(RespValue, DecodesNestedRepliesAndRefusesAnythingElse) {
  const std::optional<RespValue> value =
      RespValue::Parse(Arr({Bulk("a"), Int(-3), Arr({}), "$-1\r\n", "+ok\r\n", "-ERR x\r\n"}));
  ASSERT_TRUE(value);
  ASSERT_EQ(value->items.size(), 6u);
  EXPECT_EQ(value->items[0].text, "a");
  EXPECT_EQ(value->items[1].integer, -3);
  EXPECT_TRUE(value->items[2].IsArray());
  EXPECT_TRUE(value->items[3].null);
  EXPECT_EQ(value->items[4].text, "ok");
  EXPECT_EQ(value->items[5].type, '-');
  for (const std::string bad :
       {"*2\r\n:1\r\n", ":1\r\n:2\r\n", "$5\r\nab\r\n", "*99999\r\n", "?x\r\n", ":x\r\n", "",
        ":01\r\n", ":-0\r\n", ":+1\r\n", "$01\r\na\r\n", "*01\r\n:1\r\n"}) {
    EXPECT_FALSE(RespValue::Parse(bad)) << bad;
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_FALSE(RespValue::Parse(deep));
  EXPECT_TRUE(RespValue::Parse(deep, 64));
}

TEST(KeySpecs, AnIndexAndARangeNameFixedKeys) {
  // SET key value: index 1, range lastkey 0.
  const KeySpec set = Spec(IndexRange(1, 0, 1, 0));
  EXPECT_THAT(Keys(set, {"SET", "k", "v"}), ElementsAre(1));
  // MSET k v k v: index 1, range to the end, every second.
  const KeySpec mset = Spec(IndexRange(1, -1, 2, 0));
  EXPECT_THAT(Keys(mset, {"MSET", "a", "1", "b", "2"}), ElementsAre(1, 3));
  // Past the end: Redis refuses such a command itself.
  EXPECT_THAT(Keys(set, {"SET"}, KeyScan::kSyntaxError), IsEmpty());
}

TEST(KeySpecs, AKeywordStartsTheKeysAndALimitTakesAShareOfTheRest) {
  // XREAD ... STREAMS k1 k2 id1 id2: after STREAMS, half of the rest.
  const KeySpec xread = Spec(KeywordRange("STREAMS", 1, -1, 1, 2));
  EXPECT_THAT(Keys(xread, {"XREAD", "COUNT", "2", "streams", "a", "b", "0", "0"}),
              ElementsAre(4, 5));
  // No keyword, no keys from this spec.
  EXPECT_THAT(Keys(xread, {"XREAD", "COUNT", "2"}), IsEmpty());
  // GEORADIUS ... STORE key, searched backwards from the end.
  const KeySpec store = Spec(KeywordRange("STORE", -2, 0, 1, 0));
  EXPECT_THAT(Keys(store, {"GEORADIUS", "k", "1", "2", "3", "km", "STORE", "dest"}),
              ElementsAre(7));
}

TEST(KeySpecs, AKeyCountGivesTheNumberOfKeys) {
  // EVAL script numkeys k1 k2 ...: index 2, keynum at +0, keys from +1.
  const KeySpec eval = Spec(IndexKeynum(2, 0, 1, 1));
  EXPECT_THAT(Keys(eval, {"EVAL", "s", "2", "a", "b", "arg"}), ElementsAre(3, 4));
  EXPECT_THAT(Keys(eval, {"EVAL", "s", "0"}), IsEmpty());
  EXPECT_THAT(Keys(eval, {"EVAL", "s", "3", "a"}, KeyScan::kSyntaxError), IsEmpty());
  EXPECT_THAT(Keys(eval, {"EVAL", "s", "-1"}, KeyScan::kSyntaxError), IsEmpty());
  EXPECT_THAT(Keys(eval, {"EVAL", "s", "x"}, KeyScan::kSyntaxError), IsEmpty());
}

TEST(KeySpecs, AKeyCountIsReadAsRedisReadsItSoNoOtherSpellingNamesKeys) {
  // Redis takes the count as string2ll does and refuses the command otherwise: read "01" as one
  // and the proxy would route by a key Redis never looks at.
  const KeySpec eval = Spec(IndexKeynum(2, 0, 1, 1));
  for (const std::string_view count : {"01", "-0", "+1", " 1", "1 ", "00"}) {
    EXPECT_THAT(Keys(eval, {"EVAL", "s", count, "a"}, KeyScan::kSyntaxError), IsEmpty()) << count;
  }
}

TEST(LearnedCommands, TheFirstServerThatKnowsTheCommandDescribesIt) {
  LearnedCommands learned;
  EXPECT_EQ(learned.Find("JSON.SET", 0).state, LearnedCommands::State::kAsk);
  ASSERT_TRUE(learned.BeginLearning("JSON.SET"));
  EXPECT_EQ(learned.Find("json.set", 0).state, LearnedCommands::State::kLearning);
  const std::vector<std::string> replies = {
      "*1\r\n$-1\r\n",  // a server without the module
      Arr({Entry("json.set", -4, {"write", "denyoom"}, {IndexRange(1, 0, 1, 0)})})};
  learned.Learn("JSON.SET", replies, 0);
  const LearnedCommands::Lookup lookup = learned.Find("Json.Set", 0);
  ASSERT_EQ(lookup.state, LearnedCommands::State::kKnown);
  EXPECT_EQ(lookup.spec->name, "json.set");
  EXPECT_EQ(lookup.spec->arity, -4);
  EXPECT_EQ(lookup.spec->kind, CommandKind::kMultiKey);
  std::vector<uint32_t> keys;
  const std::vector<std::string_view> args = {"JSON.SET", "doc", "$", "{}"};
  EXPECT_EQ(CollectKeys(*lookup.spec, args, &keys), KeyScan::kOk);
  EXPECT_THAT(keys, ElementsAre(1));
}

TEST(LearnedCommands, BlockingAndPubSubCommandsAreLearnedAsUnsupported) {
  LearnedCommands learned;
  ASSERT_TRUE(learned.BeginLearning("myblpop"));
  learned.Learn("myblpop",
                std::vector<std::string>{
                    Arr({Entry("blpop", -3, {"write", "blocking"}, {IndexRange(1, -2, 1, 0)})})},
                0);
  EXPECT_EQ(learned.Find("myblpop", 0).spec->kind, CommandKind::kUnsupported);
}

TEST(LearnedCommands, UnknownToEveryServerIsAskedAgainOnlyAfterAWhile) {
  LearnedCommands learned;
  ASSERT_TRUE(learned.BeginLearning("nosuch"));
  learned.Learn("nosuch", std::vector<std::string>{"*1\r\n$-1\r\n", "*1\r\n*-1\r\n"}, 1000);
  EXPECT_EQ(learned.Find("nosuch", 1000).state, LearnedCommands::State::kUnknown);
  EXPECT_EQ(learned.Find("nosuch", 1000 + LearnedCommands::kUnknownForMs - 1).state,
            LearnedCommands::State::kUnknown);
  EXPECT_EQ(learned.Find("nosuch", 1000 + LearnedCommands::kUnknownForMs).state,
            LearnedCommands::State::kAsk);
}

TEST(LearnedCommands, ServersThatCouldNotAnswerGiveAShortLivedError) {
  LearnedCommands learned;
  ASSERT_TRUE(learned.BeginLearning("mycmd"));
  learned.Learn("mycmd", std::vector<std::string>{"-ERR Connection refused\r\n"}, 0);
  const LearnedCommands::Lookup lookup = learned.Find("mycmd", 0);
  EXPECT_EQ(lookup.state, LearnedCommands::State::kFailed);
  EXPECT_EQ(lookup.error,
            "ERR the pool's servers could not be asked about 'mycmd': ERR Connection refused");
  EXPECT_EQ(learned.Find("mycmd", LearnedCommands::kFailedForMs).state,
            LearnedCommands::State::kAsk);
}

TEST(LearnedCommands, OnlyNamesThatCouldBeCommandsAndABoundedNumberAreAsked) {
  for (const char* name : {"JSON.GET", "bf.add", "FT._LIST", "module|sub", "HEXPIRE"}) {
    EXPECT_TRUE(LearnedCommands::Learnable(name)) << name;
  }
  for (const char* name : {"", "no such", "x\r\n", "\xff"}) {
    EXPECT_FALSE(LearnedCommands::Learnable(name)) << name;
  }
  EXPECT_FALSE(LearnedCommands::Learnable(std::string(65, 'a')));
  LearnedCommands learned;
  for (size_t i = 0; i < LearnedCommands::kMaxEntries; ++i) {
    ASSERT_TRUE(learned.BeginLearning("c" + std::to_string(i)));
  }
  EXPECT_FALSE(learned.BeginLearning("one-more"));
  EXPECT_EQ(learned.size(), LearnedCommands::kMaxEntries);
}

}  // namespace
}  // namespace ringproxy::proxy
