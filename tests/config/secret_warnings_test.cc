// SecretWarnings: placeholder passwords and secret files other users can read are reported, by
// pool and key and never with the password; a Kubernetes Secret mounted 0440 under the pod's
// fsGroup is not.
#include "config/secret_warnings.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace ringproxy::config {
namespace {

class SecretFile {
 public:
  explicit SecretFile(mode_t mode) {
    std::string pattern = (std::filesystem::temp_directory_path() / "secret-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    path_ = pattern;
    if (fd >= 0) close(fd);
    std::ofstream(path_) << "a-real-password\n";
    chmod(path_.c_str(), mode);
    stat(path_.c_str(), &info_);
  }
  ~SecretFile() { std::filesystem::remove(path_); }
  SecretFile(const SecretFile&) = delete;
  SecretFile& operator=(const SecretFile&) = delete;

  const std::string& path() const { return path_; }
  uid_t owner() const { return info_.st_uid; }
  gid_t group() const { return info_.st_gid; }

 private:
  std::string path_;
  struct stat info_ {};
};

Config OnePool(const std::function<void(PoolConfig*)>& set) {
  Config config;
  config.pools.emplace_back();
  config.pools[0].name = "alpha";
  set(&config.pools[0]);
  return config;
}

TEST(PlaceholderPasswords, KnownPlaceholdersInAnyCase) {
  for (const char* password : {"change-me-before-production", "CHANGE-ME", "changeme123",
                               "change_me", "foobared", "Password", "secret", "redis"}) {
    EXPECT_TRUE(IsPlaceholderPassword(password)) << password;
  }
  for (const char* password : {"x8Jq2vNw0pLz", "correct horse battery staple", "me-change"}) {
    EXPECT_FALSE(IsPlaceholderPassword(password)) << password;
  }
}

TEST(SecretWarnings, PlaceholderPasswordsAreNamedByPoolAndKeyNotByValue) {
  const Config config = OnePool([](PoolConfig* pool) {
    pool->redis_auth = "change-me-before-production";
    pool->server_auth = "foobared";
  });
  const std::vector<std::string> warnings = SecretWarnings(config, FileReader::Current());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "pool 'alpha': the clients' password (redis_auth) is a well-known placeholder; set a "
            "password of your own");
  EXPECT_NE(warnings[1].find("(server_auth)"), std::string::npos);
  for (const std::string& warning : warnings) {
    EXPECT_EQ(warning.find("change-me-before-production"), std::string::npos);
    EXPECT_EQ(warning.find("foobared"), std::string::npos);
  }
}

TEST(SecretWarnings, AGoodPasswordInAPrivateFileIsFine) {
  SecretFile file(0600);
  const Config config = OnePool([&](PoolConfig* pool) {
    pool->redis_auth = "a-real-password";
    pool->redis_auth_file = file.path();
  });
  EXPECT_TRUE(SecretWarnings(config, FileReader::Current()).empty());
}

TEST(SecretWarnings, AWorldReadableSecretFileIsReported) {
  SecretFile file(0644);  // a Kubernetes Secret volume's default mode
  const Config config = OnePool([&](PoolConfig* pool) { pool->server_auth_file = file.path(); });
  const std::vector<std::string> warnings = SecretWarnings(config, FileReader::Current());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "pool 'alpha': server_auth_file '" + file.path() +
                             "' is readable by every user (mode 0644); make it readable by the "
                             "proxy alone (chmod 600, or 0440 with a group of the proxy's own)");
}

TEST(SecretWarnings, GroupReadIsReportedUnlessTheProxyNeedsItToReadTheFile) {
  SecretFile file(0440);
  const Config config = OnePool([&](PoolConfig* pool) { pool->tls.key_file = file.path(); });
  // A Secret with defaultMode 0440 and fsGroup: owned by root, group the proxy's. Fine.
  FileReader pod_user{file.owner() + 1, {file.group()}};
  EXPECT_TRUE(SecretWarnings(config, pod_user).empty());
  // Its group is someone else's: they can read it.
  FileReader stranger{file.owner() + 1, {file.group() + 1}};
  const std::vector<std::string> warnings = SecretWarnings(config, stranger);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("tls key_file '" + file.path() +
                             "' is readable by its group (mode 0440), which is not the proxy's"),
            std::string::npos);
  // The proxy owns it: the group bit only lets others in.
  FileReader owner{file.owner(), {file.group()}};
  ASSERT_EQ(SecretWarnings(config, owner).size(), 1u);
  EXPECT_NE(SecretWarnings(config, owner)[0].find("the proxy owns it"), std::string::npos);
}

}  // namespace
}  // namespace ringproxy::config
