// The YAML layer: what it hands the loader (text and positions) and what it refuses because
// nutcracker's libyaml checks refuse it.
#include "config/yaml_node.h"

#include <gtest/gtest.h>

namespace ringproxy::config {
namespace {

template <class Case>
std::string TitleOf(const testing::TestParamInfo<Case>& param_info) {
  return param_info.param.title;
}

const YamlNode& Value(const YamlNode& mapping, std::string_view key) {
  for (const auto& [name, value] : mapping.entries) {
    if (name.text == key) {
      return value;
    }
  }
  ADD_FAILURE() << "no key " << key;
  static const YamlNode kMissing;
  return kMissing;
}

TEST(YamlNode, KeepsScalarsEntriesAndPositionsInFileOrder) {
  const YamlParseResult parsed = ParseYamlNode(
      "beta:\n"
      "  listen: 127.0.0.1:1\n"
      "alpha:\n"
      "  servers:\n"
      "    - a:1:1\n"
      "    - 'b:1:1 x'\n");
  ASSERT_FALSE(parsed.failed) << parsed.error;
  ASSERT_TRUE(parsed.root.has_value());
  const YamlNode& root = *parsed.root;
  ASSERT_EQ(root.kind, YamlNode::Kind::kMapping);
  ASSERT_EQ(root.entries.size(), 2u);
  EXPECT_EQ(root.entries[0].key.text, "beta");
  EXPECT_EQ(root.entries[1].key.text, "alpha");
  EXPECT_EQ(root.entries[1].key.where, (SourceLocation{3, 1}));

  const YamlNode& listen = Value(root.entries[0].value, "listen");
  EXPECT_EQ(listen.text, "127.0.0.1:1");
  EXPECT_EQ(listen.where, (SourceLocation{2, 11}));

  const YamlNode& servers = Value(root.entries[1].value, "servers");
  ASSERT_EQ(servers.kind, YamlNode::Kind::kSequence);
  ASSERT_EQ(servers.items.size(), 2u);
  EXPECT_EQ(servers.items[1].text, "b:1:1 x");
  EXPECT_EQ(servers.items[1].where, (SourceLocation{6, 7}));
}

TEST(YamlNode, KeepsTheSpellingOfPlainNullWordsAsLibyamlDoes) {
  const YamlParseResult parsed = ParseYamlNode(
      "~:\n"
      "  a: ~\n"
      "  b: null\n"
      "  c: Null # comment\n"
      "  d: NULL\n"
      "  e:\n"
      "  null: 1\n"
      "  f: \"\"\n"
      "  g: nullable\n");
  ASSERT_FALSE(parsed.failed) << parsed.error;
  const YamlNode& root = *parsed.root;
  ASSERT_EQ(root.entries.size(), 1u);
  EXPECT_EQ(root.entries[0].key.text, "~");
  const YamlNode& pool = root.entries[0].value;
  EXPECT_EQ(Value(pool, "a").text, "~");
  EXPECT_EQ(Value(pool, "b").text, "null");
  EXPECT_EQ(Value(pool, "c").text, "Null");
  EXPECT_EQ(Value(pool, "d").text, "NULL");
  // An empty value is empty even when the next key happens to be a null word...
  EXPECT_EQ(Value(pool, "e").text, "");
  // ...and its position is its key's, not the next token's.
  EXPECT_EQ(Value(pool, "e").where, (SourceLocation{6, 3}));
  EXPECT_EQ(Value(pool, "null").text, "1");
  EXPECT_EQ(Value(pool, "f").text, "");
  EXPECT_EQ(Value(pool, "g").text, "nullable");
}

TEST(YamlNode, CountsOffsetsInBytesPastAByteOrderMarkAndNonAsciiText) {
  const YamlParseResult parsed = ParseYamlNode("\xEF\xBB\xBFp\xC3\xB6\xC3\xB6l:\n  auth: null\n");
  ASSERT_FALSE(parsed.failed) << parsed.error;
  const YamlNode& root = *parsed.root;
  EXPECT_EQ(root.entries[0].key.text, "p\xC3\xB6\xC3\xB6l");
  EXPECT_EQ(Value(root.entries[0].value, "auth").text, "null");
}

TEST(YamlNode, AnEmptyOrCommentOnlyTextHasNoDocument) {
  for (const char* text : {"", "\n\n", "# only a comment\n"}) {
    const YamlParseResult parsed = ParseYamlNode(text);
    EXPECT_FALSE(parsed.failed) << text;
    EXPECT_FALSE(parsed.root.has_value()) << text;
  }
}

bool OnlyStatefulSet(std::string_view directive) { return directive == "statefulset"; }

TEST(YamlNode, AcceptsAFlowMappingOnlyAsTheValueOfADirectiveTheCallerAllows) {
  const YamlParseResult parsed =
      ParseYamlNode("a:\n  statefulset: {service: redis, replicas: 3}\n", OnlyStatefulSet);
  ASSERT_FALSE(parsed.failed) << parsed.error;
  const YamlNode& statefulset = Value(parsed.root->entries[0].value, "statefulset");
  ASSERT_EQ(statefulset.kind, YamlNode::Kind::kMapping);
  ASSERT_EQ(statefulset.entries.size(), 2u);
  EXPECT_EQ(Value(statefulset, "service").text, "redis");
  EXPECT_EQ(Value(statefulset, "replicas").text, "3");
  EXPECT_EQ(Value(statefulset, "replicas").where, (SourceLocation{2, 43}));

  // Without the callback, as nutcracker: refused.
  EXPECT_TRUE(ParseYamlNode("a:\n  statefulset: {service: redis}\n").failed);
}

TEST(YamlNode, StillRefusesFlowCollectionsEverywhereElse) {
  for (const char* text : {
           "{a: {statefulset: x}}\n",                    // the document
           "a: {statefulset: {service: x}}\n",           // a pool
           "a:\n  hash: {name: md5}\n",                  // another directive
           "a:\n  statefulset: [x]\n",                   // a flow list
           "a:\n  statefulset: {service: {name: x}}\n",  // nested in the allowed mapping
           "a:\n  statefulset: {service: [x]}\n",        // a list nested in it
           "a:\n  s:\n    statefulset: {service: x}\n",  // deeper than a directive
       }) {
    const YamlParseResult parsed = ParseYamlNode(text, OnlyStatefulSet);
    EXPECT_TRUE(parsed.failed) << text;
    EXPECT_TRUE(parsed.error.starts_with("flow ")) << text << ": " << parsed.error;
  }
}

struct RefusedCase {
  const char* title;
  const char* text;
  SourceLocation where;
  const char* error;
};

class YamlNodeRefuses : public testing::TestWithParam<RefusedCase> {};

TEST_P(YamlNodeRefuses, WhatNutcrackerRefuses) {
  const YamlParseResult parsed = ParseYamlNode(GetParam().text);
  ASSERT_TRUE(parsed.failed);
  EXPECT_FALSE(parsed.root.has_value());
  EXPECT_EQ(parsed.error_where, GetParam().where);
  EXPECT_EQ(parsed.error, GetParam().error);
}

constexpr const char* kMarkers =
    "document markers (\"---\", \"...\") are not accepted: nutcracker refuses them; a "
    "configuration is a single document without markers";

INSTANTIATE_TEST_SUITE_P(
    Nutcracker, YamlNodeRefuses,
    testing::Values(
        RefusedCase{"DocumentStart", "---\na:\n  b: c\n", {1, 1}, kMarkers},
        RefusedCase{"DocumentStartWithComment", "# x\n--- # y\na: b\n", {2, 1}, kMarkers},
        RefusedCase{"DocumentEnd", "a:\n  b: c\n...\n", {3, 1}, kMarkers},
        RefusedCase{"SecondDocument", "a: b\n---\nc: d\n", {2, 1}, kMarkers},
        RefusedCase{"FlowList",
                    "a:\n  servers: [x:1:1]\n",
                    {2, 12},
                    "flow lists (\"[...]\") are not accepted: nutcracker refuses them; write "
                    "one \"- item\" per line"},
        RefusedCase{"FlowMapping",
                    "a: {listen: x}\n",
                    {1, 4},
                    "flow mappings (\"{...}\") are not accepted: nutcracker refuses them; "
                    "write one \"key: value\" per line"},
        RefusedCase{"Anchor",
                    "a:\n  hash: &h md5\n",
                    {2, 9},
                    "anchors (&name) are not accepted: nutcracker refuses them"},
        // An alias needs an anchor, itself refused first; alone it is a syntax error.
        // An alias needs an anchor, itself refused first; alone it is a syntax error.
        RefusedCase{"Alias",
                    "a:\n  hash: md5\nb:\n  hash: *h\n",
                    {4, 9},
                    "YAML syntax error: the referenced anchor is not defined"},
        RefusedCase{"Tag",
                    "a:\n  hash: !!str md5\n",
                    {2, 9},
                    "tags (\"tag:yaml.org,2002:str\") are not accepted: nutcracker refuses "
                    "them"},
        RefusedCase{"SyntaxError",
                    "a:\n  b: c\n d: e\n",
                    {3, 2},
                    "YAML syntax error: end of map not found"},
        // yaml-cpp alone would accept these (the value runs to the end of the text).
        RefusedCase{"UnclosedQuote",
                    "a:\n  b: \"c\n",
                    {2, 6},
                    "YAML syntax error: the quoted value has no closing \""},
        RefusedCase{"UnclosedSingleQuote",
                    "a:\n  b: 'c''\n  d: e\n",
                    {2, 6},
                    "YAML syntax error: the quoted value has no closing '"},
        RefusedCase{"ClosedQuotesWithEscapes",
                    "a:\n  b: \"c\\\"\"\n  d: 'e''f'\n  g: [h]\n",
                    {4, 6},
                    "flow lists (\"[...]\") are not accepted: nutcracker refuses them; write "
                    "one \"- item\" per line"}),
    TitleOf<RefusedCase>);

}  // namespace
}  // namespace ringproxy::config
