// Reads nutcracker.yml (and ringproxy's documented extensions) exactly as nutcracker reads it:
// the same keys, defaults, value rules and rejections, with errors that name file:line:column.
// yaml-cpp stays inside this library.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/pool_config.h"

namespace ringproxy::config {

struct ConfigError {
  std::string file;
  SourceLocation where;
  std::string message;

  // "file:line:col: message" (line and column omitted when unknown).
  std::string ToString() const;
};

struct LoadResult {
  std::optional<Config> config;  // set on success
  ConfigError error;             // meaningful when config is empty

  bool ok() const { return config.has_value(); }
};

LoadResult LoadConfigFile(const std::string& path);
// `file_name` names the file in messages, and its directory is where a relative redis_auth_file
// is read from ("t.yml": the working directory).
LoadResult LoadConfigString(std::string_view yaml_text, std::string_view file_name);

}  // namespace ringproxy::config
