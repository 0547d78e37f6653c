// A YAML document as the subset nutcracker reads it: scalars, block mappings and block sequences,
// each with its position. Built from yaml-cpp's event stream (not its Node API) because only the
// events tell what nutcracker's libyaml token check rejects: anchors, aliases, tags and flow
// collections. yaml-cpp never appears in this header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/pool_config.h"

namespace ringproxy::config {

struct YamlEntry;

struct YamlNode {
  enum class Kind { kScalar, kMapping, kSequence };

  Kind kind = Kind::kScalar;
  SourceLocation where;
  // Scalars only: the text as libyaml hands it to nutcracker. A plain `~` or `null` keeps that
  // spelling (yaml-cpp reports it only as "null"; nutcracker sees the word), an empty value is "".
  std::string text;
  std::vector<YamlEntry> entries;  // mappings only, in file order
  std::vector<YamlNode> items;     // sequences only

  bool is_scalar() const { return kind == Kind::kScalar; }
};

struct YamlEntry {
  YamlNode key;
  YamlNode value;
};

struct YamlParseResult {
  std::optional<YamlNode> root;  // empty when the text holds no document, or on error
  bool failed = false;
  SourceLocation error_where;
  std::string error;
};

// Says whether a pool directive named `directive` may have a flow mapping as its value
// ("statefulset: {service: redis-headless, replicas: 3}").
using FlowMappingAllowed = bool (*)(std::string_view directive);

// Never throws. A syntax error, or a construct nutcracker refuses (document markers, anchors,
// aliases, tags, flow collections), fails with the position of the first offending token.
// The one exception is `flow_mapping_allowed`: a flow mapping of scalars that is the value of a
// pool directive it accepts (only ringproxy's own directives, which nutcracker refuses anyway,
// so nothing nutcracker accepts changes). Null: no flow collection anywhere.
YamlParseResult ParseYamlNode(std::string_view text,
                              FlowMappingAllowed flow_mapping_allowed = nullptr);

}  // namespace ringproxy::config
