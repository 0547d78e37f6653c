#include "config/secret_warnings.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace ringproxy::config {
namespace {

// Whole passwords that examples, tutorials and defaults use; any password beginning with
// "change-me", "changeme" or "change_me" counts too (the shipped Kubernetes Secrets hold
// "change-me-before-production...").
constexpr std::array<std::string_view, 12> kPlaceholders = {
    "password", "passw0rd", "foobared", "secret", "redis", "admin",
    "default",  "123456",   "12345678", "test",   "pass",  "changeit"};
constexpr std::array<std::string_view, 3> kPlaceholderPrefixes = {"change-me", "changeme",
                                                                  "change_me"};

std::string Lower(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string Octal(mode_t mode) {
  std::string text = "0";
  for (int shift = 6; shift >= 0; shift -= 3) {
    text.push_back(static_cast<char>('0' + ((mode >> shift) & 7)));
  }
  return text;
}

// Why users other than `reader` can read `path`, or empty when they cannot (or it is missing:
// loading the configuration reports that).
std::string OthersCanRead(const std::string& path, const FileReader& reader) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return "";
  const mode_t mode = info.st_mode & 0777;
  if ((mode & S_IROTH) != 0) {
    return "is readable by every user (mode " + Octal(mode) + ")";
  }
  if ((mode & S_IRGRP) == 0) return "";
  const bool our_group =
      std::find(reader.groups.begin(), reader.groups.end(), info.st_gid) != reader.groups.end();
  if (!our_group) {
    return "is readable by its group (mode " + Octal(mode) + "), which is not the proxy's";
  }
  if (info.st_uid == reader.uid) {
    return "is readable by its group (mode " + Octal(mode) +
           "), although the proxy owns it and needs no group access";
  }
  return "";
}

void CheckPassword(const PoolConfig& pool, const std::string& password, const std::string& what,
                   std::vector<std::string>* out) {
  if (!password.empty() && IsPlaceholderPassword(password)) {
    out->push_back("pool '" + pool.name + "': " + what +
                   " is a well-known placeholder; set a password of your own");
  }
}

void CheckFile(const PoolConfig& pool, const std::string& path, const std::string& key,
               const FileReader& reader, std::vector<std::string>* out) {
  if (path.empty()) return;
  const std::string why = OthersCanRead(path, reader);
  if (!why.empty()) {
    out->push_back("pool '" + pool.name + "': " + key + " '" + path + "' " + why +
                   "; make it readable by the proxy alone (chmod 600, or 0440 with a group of "
                   "the proxy's own)");
  }
}

}  // namespace

FileReader FileReader::Current() {
  FileReader reader;
  reader.uid = geteuid();
  reader.groups.push_back(getegid());
  const int count = getgroups(0, nullptr);
  if (count > 0) {
    std::vector<gid_t> groups(static_cast<size_t>(count));
    const int got = getgroups(count, groups.data());
    if (got > 0) reader.groups.insert(reader.groups.end(), groups.begin(), groups.begin() + got);
  }
  return reader;
}

bool IsPlaceholderPassword(const std::string& password) {
  const std::string lower = Lower(password);
  for (const std::string_view placeholder : kPlaceholders) {
    if (lower == placeholder) return true;
  }
  for (const std::string_view prefix : kPlaceholderPrefixes) {
    if (lower.starts_with(prefix)) return true;
  }
  return false;
}

std::vector<std::string> SecretWarnings(const Config& config, const FileReader& reader) {
  std::vector<std::string> warnings;
  for (const PoolConfig& pool : config.pools) {
    CheckPassword(pool, pool.redis_auth, "the clients' password (redis_auth)", &warnings);
    CheckPassword(pool, pool.server_auth, "the servers' password (server_auth)", &warnings);
    CheckFile(pool, pool.redis_auth_file, "redis_auth_file", reader, &warnings);
    CheckFile(pool, pool.server_auth_file, "server_auth_file", reader, &warnings);
    CheckFile(pool, pool.tls.key_file, "tls key_file", reader, &warnings);
    CheckFile(pool, pool.server_tls.key_file, "server_tls key_file", reader, &warnings);
  }
  return warnings;
}

}  // namespace ringproxy::config
