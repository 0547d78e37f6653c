// Loading, in nutcracker's order of concerns: YAML that nutcracker's libyaml checks would accept
// (yaml_node.cc), the document's shape (a mapping of pool names to pools), each pool on its own
// (pool_loader.cc, driven by the PoolKey table), then the rules across pools (no two with the
// same name or the same listen text). The first error stops loading.
#include "config/config_loader.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>

#include "config/pool_key.h"
#include "config/pool_loader.h"
#include "config/yaml_node.h"

namespace ringproxy::config {
namespace {

std::string Position(const SourceLocation& where) {
  return std::to_string(where.line) + ":" + std::to_string(where.column);
}

LoadResult Failure(std::string_view file, SourceLocation where, std::string message) {
  LoadResult result;
  result.error =
      ConfigError{.file = std::string(file), .where = where, .message = std::move(message)};
  return result;
}

const YamlNode* FindEntry(const YamlNode& mapping, std::string_view key) {
  for (const auto& [name, value] : mapping.entries) {
    if (name.kind == YamlNode::Kind::kScalar && name.text == key) {
      return &value;
    }
  }
  return nullptr;
}

LoadResult Load(std::string_view yaml_text, std::string_view file_name) {
  YamlParseResult yaml = ParseYamlNode(yaml_text, [](std::string_view directive) {
    const PoolKey* key = FindPoolKey(directive);
    return key != nullptr && key->shape == PoolKey::Shape::kMapping;
  });
  if (yaml.failed) {
    return Failure(file_name, yaml.error_where, std::move(yaml.error));
  }
  if (!yaml.root) {
    return Failure(file_name, {},
                   "has no pools: the file is empty (expected a mapping of pool names to pools)");
  }
  const YamlNode& root = *yaml.root;
  if (root.kind != YamlNode::Kind::kMapping) {
    return Failure(file_name, root.where,
                   "the top level must be a mapping of pool names to pools (\"alpha:\" followed "
                   "by its indented directives)");
  }

  Config config;
  config.path = std::string(file_name);
  const std::string config_dir = std::filesystem::path(file_name).parent_path().string();
  // nutcracker compares listen values as written: "localhost:22121" and "127.0.0.1:22121" differ.
  std::map<std::string, size_t> by_name;  // pool index
  std::map<std::string, size_t> by_listen;
  for (const auto& [name, body] : root.entries) {
    PoolConfig pool;
    if (auto error = LoadPool(name, body, config_dir, &pool)) {
      error->file = std::string(file_name);
      return LoadResult{.config = std::nullopt, .error = std::move(*error)};
    }
    const size_t index = config.pools.size();
    if (const auto first = by_name.find(pool.name); first != by_name.end()) {
      return Failure(file_name, pool.where,
                     "pool \"" + pool.name + "\" is defined twice (first at " +
                         Position(config.pools[first->second].where) + ")");
    }
    by_name.emplace(pool.name, index);
    // LoadPool succeeded, so the pool has a scalar listen entry.
    const YamlNode* listen = FindEntry(body, "listen");
    if (const auto first = by_listen.find(listen->text); first != by_listen.end()) {
      return Failure(file_name, listen->where,
                     "pools \"" + config.pools[first->second].name + "\" and \"" + pool.name +
                         "\" have the same listen address \"" + listen->text + "\"");
    }
    by_listen.emplace(listen->text, index);
    config.pools.push_back(std::move(pool));
  }
  return LoadResult{.config = std::move(config), .error = {}};
}

}  // namespace

std::string ConfigError::ToString() const {
  std::string text = file;
  if (where.line > 0) {
    text += ":" + Position(where);
  }
  return text + ": " + message;
}

LoadResult LoadConfigString(std::string_view yaml_text, std::string_view file_name) {
  try {
    return Load(yaml_text, file_name);
  } catch (const std::exception& e) {
    // Only allocation can throw here; the caller still gets an error, never an exception.
    return Failure(file_name, {}, std::string("cannot load the configuration: ") + e.what());
  }
}

LoadResult LoadConfigFile(const std::string& path) {
  try {
    const std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) {
      return Failure(path, {},
                     std::string("cannot open the configuration file: ") + std::strerror(errno));
    }
    std::string text;
    char buffer[1 << 14];
    size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
      text.append(buffer, got);
    }
    if (std::ferror(file.get())) {
      return Failure(path, {},
                     std::string("cannot read the configuration file: ") + std::strerror(errno));
    }
    return LoadConfigString(text, path);
  } catch (const std::exception& e) {
    return Failure(path, {}, std::string("cannot load the configuration: ") + e.what());
  }
}

}  // namespace ringproxy::config
