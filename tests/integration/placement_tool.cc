// placement_tool: where ringproxy's hashing library places keys, for comparison with where the
// real nutcracker put them (test_placement_oracle.py).
//
//   placement_tool --config FILE [--pool N]  < hex keys, one per line
//
// Keys are hex-encoded so that any byte (0x00, CR, LF, >= 0x80) survives the pipe; an empty line
// is the empty key. For each key it prints the NAME of the chosen server (the explicit name, else
// "host:port"), or "-" when the pool has no live server. Pool N is the N-th pool in file order.
// Exit status: 0 on success, 2 on bad usage, an unreadable config or a malformed line.

#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.h"
#include "config/pool_config.h"
#include "hashing/continuum.h"
#include "hashing/placement.h"

namespace {

using ringproxy::config::LoadConfigFile;
using ringproxy::config::PoolConfig;
using ringproxy::hashing::Continuum;
using ringproxy::hashing::Placement;
using ringproxy::hashing::ServerWeight;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::optional<std::string> DecodeHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = HexDigit(hex[i]);
    const int low = HexDigit(hex[i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((high << 4) | low));
  }
  return out;
}

Placement BuildPlacement(const PoolConfig& pool) {
  // The config already holds the servers in nutcracker's order, which is the index space of
  // Continuum and Placement; `servers` only views names owned by `pool`.
  std::vector<ServerWeight> servers;
  servers.reserve(pool.servers.size());
  for (const auto& server : pool.servers) {
    servers.push_back(ServerWeight{server.name, server.weight, true});
  }
  Continuum continuum = Continuum::Build(pool.distribution, servers);
  return Placement(pool.hash, pool.hash_tag, std::move(continuum),
                   static_cast<uint32_t>(pool.servers.size()));
}

int Usage(const char* message) {
  std::cerr
      << "placement_tool: " << message
      << "\nusage: placement_tool --config FILE [--pool N] < hex-encoded keys, one per line\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  long pool_index = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--config" || arg == "-c") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--pool" && i + 1 < argc) {
      char* end = nullptr;
      pool_index = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || pool_index < 0) {
        return Usage("--pool takes a pool index (0 is the first pool in the file)");
      }
    } else {
      return Usage("unexpected argument");
    }
  }
  if (config_path.empty()) {
    return Usage("--config is required");
  }

  const auto loaded = LoadConfigFile(config_path);
  if (!loaded.ok()) {
    std::cerr << "placement_tool: " << loaded.error.ToString() << "\n";
    return 2;
  }
  const auto& pools = loaded.config->pools;
  if (static_cast<size_t>(pool_index) >= pools.size()) {
    std::cerr << "placement_tool: pool " << pool_index << " does not exist (" << pools.size()
              << " pools)\n";
    return 2;
  }
  const PoolConfig& pool = pools[static_cast<size_t>(pool_index)];
  const Placement placement = BuildPlacement(pool);

  std::ios::sync_with_stdio(false);
  std::string line;
  std::string out;
  for (uint64_t line_number = 1; std::getline(std::cin, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const auto key = DecodeHex(line);
    if (!key) {
      std::cerr << "placement_tool: line " << line_number << " is not hex: " << line << "\n";
      return 2;
    }
    const uint32_t index = placement.ServerFor(*key);
    if (index == Continuum::kNoServer) {
      out += "-";
    } else {
      assert(index < pool.servers.size());
      out += pool.servers[index].name;
    }
    out += '\n';
  }
  std::cout << out;
  std::cout.flush();
  return std::cout.good() ? 0 : 2;
}
