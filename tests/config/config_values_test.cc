// The value parsers on their own: numbers, server lines, listen lines, DNS names, passwords from
// files and the environment, the statefulset expansion, and the directive table.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/byte_size.h"
#include "config/dns_name.h"
#include "config/listen_line.h"
#include "config/nutcracker_number.h"
#include "config/password_source.h"
#include "config/pool_key.h"
#include "config/server_line.h"
#include "config/statefulset_expansion.h"
#include "config/yaml_node.h"

namespace ringproxy::config {
namespace {

// ---- numbers ------------------------------------------------------------------------------------

TEST(NutcrackerNumber, AcceptsDigitsUpToInt32Max) {
  std::string reason;
  EXPECT_EQ(ParseNutcrackerNumber("0", &reason), 0);
  EXPECT_EQ(ParseNutcrackerNumber("00400", &reason), 400);
  EXPECT_EQ(ParseNutcrackerNumber("2147483647", &reason), 2147483647);
}

TEST(NutcrackerNumber, RefusesWhatNcAtoiRefuses) {
  for (const char* text : {"", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x10", "ten"}) {
    std::string reason;
    EXPECT_FALSE(ParseNutcrackerNumber(text, &reason).has_value()) << text;
    EXPECT_TRUE(reason.starts_with("is not a number")) << text << ": " << reason;
  }
}

TEST(NutcrackerNumber, RefusesValuesThatWouldWrapInNutcracker) {
  for (const char* text : {"2147483648", "4294967297", "99999999999999999999"}) {
    std::string reason;
    EXPECT_FALSE(ParseNutcrackerNumber(text, &reason).has_value()) << text;
    EXPECT_EQ(reason, "is too large: the largest accepted number is 2147483647") << text;
  }
}

// ---- server lines -------------------------------------------------------------------------------

struct ServerCase {
  const char* text;
  const char* host;
  int port;
  const char* unix_path;
  uint32_t weight;
  const char* name;
  bool explicit_name;
};

class ServerLineValid : public testing::TestWithParam<ServerCase> {};

TEST_P(ServerLineValid, ParsesFieldsAndHashingName) {
  const ServerCase& c = GetParam();
  ServerConfig server;
  const auto error = ParseServerLine(c.text, &server);
  ASSERT_FALSE(error.has_value()) << *error;
  EXPECT_EQ(server.host, c.host);
  EXPECT_EQ(server.port, c.port);
  EXPECT_EQ(server.unix_path, c.unix_path);
  EXPECT_EQ(server.weight, c.weight);
  EXPECT_EQ(server.name, c.name);
  EXPECT_EQ(server.has_explicit_name, c.explicit_name);
}

// Names checked against nutcracker 0.5.0's stats output, which keys servers by this name.
INSTANTIATE_TEST_SUITE_P(
    Nutcracker, ServerLineValid,
    testing::Values(
        ServerCase{"127.0.0.1:7001:1", "127.0.0.1", 7001, "", 1, "127.0.0.1:7001", false},
        ServerCase{"127.0.0.1:7001:1 shard-0", "127.0.0.1", 7001, "", 1, "shard-0", true},
        ServerCase{"redis-0.redis-headless.default.svc.cluster.local:6379:3 redis-0",
                   "redis-0.redis-headless.default.svc.cluster.local", 6379, "", 3, "redis-0",
                   true},
        // The port as written stays in the name.
        ServerCase{"127.0.0.1:07001:1", "127.0.0.1", 7001, "", 1, "127.0.0.1:07001", false},
        // libmemcached compatibility: on port 11211 the name is the host alone.
        ServerCase{"127.0.0.1:11211:1", "127.0.0.1", 11211, "", 1, "127.0.0.1", false},
        // Split from the end, so an IPv6 host keeps its colons.
        ServerCase{"::1:6379:1", "::1", 6379, "", 1, "::1:6379", false},
        ServerCase{"/tmp/redis.sock:2", "", 0, "/tmp/redis.sock", 2, "/tmp/redis.sock:", false},
        ServerCase{"/tmp/redis.sock:1 local", "", 0, "/tmp/redis.sock", 1, "local", true},
        // A trailing blank gives an explicit empty name, as in nutcracker.
        ServerCase{"127.0.0.1:7002:1 ", "127.0.0.1", 7002, "", 1, "", true},
        ServerCase{"h:65535:2147483647", "h", 65535, "", 2147483647, "h:65535", false}));

struct RefusedServerCase {
  const char* text;
  const char* reason;
};

class ServerLineInvalid : public testing::TestWithParam<RefusedServerCase> {};

TEST_P(ServerLineInvalid, RefusesWithReason) {
  ServerConfig server;
  const auto error = ParseServerLine(GetParam().text, &server);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error, GetParam().reason);
}

constexpr const char* kFormat =
    "is not \"host:port:weight [name]\" or \"/unix/socket/path:weight [name]\"";

INSTANTIATE_TEST_SUITE_P(
    Nutcracker, ServerLineInvalid,
    testing::Values(
        RefusedServerCase{"127.0.0.1:7001", kFormat}, RefusedServerCase{"localhost", kFormat},
        RefusedServerCase{"my host:1:1", kFormat}, RefusedServerCase{"/tmp/a:b:1", kFormat},
        RefusedServerCase{"/tmp/a.sock", kFormat},
        RefusedServerCase{"127.0.0.1:7001:0", "has a zero weight: a weight must be at least 1"},
        RefusedServerCase{"127.0.0.1:7001:",
                          "has an invalid weight \"\": a whole number > 0 is expected"},
        RefusedServerCase{"127.0.0.1:7001:-1",
                          "has an invalid weight \"-1\": a whole number > 0 is expected"},
        // Only the last blank separates the name, so the weight field swallows the rest.
        RefusedServerCase{"127.0.0.1:7001:1 two words",
                          "has an invalid weight \"1 two\": a whole number > 0 is expected"},
        RefusedServerCase{"127.0.0.1:7001:1\tname",
                          "has an invalid weight \"1\tname\": a whole number > 0 is expected"},
        RefusedServerCase{"127.0.0.1:0:1", "has an invalid port \"0\": expected 1-65535"},
        RefusedServerCase{"127.0.0.1:65536:1", "has an invalid port \"65536\": expected 1-65535"},
        RefusedServerCase{"127.0.0.1:redis:1", "has an invalid port \"redis\": expected 1-65535"}));

TEST(ServerLine, RefusesAnEmbeddedNulByte) {
  ServerConfig server;
  const std::string text("127.0.0.1\0x:7001:1", 18);
  const auto error = ParseServerLine(text, &server);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error, kFormat);
}

// ---- listen lines -------------------------------------------------------------------------------

TEST(ListenLine, SplitsHostAndPortAtTheLastColon) {
  ListenAddress listen;
  ASSERT_EQ(ParseListenLine("127.0.0.1:22121", &listen), std::nullopt);
  EXPECT_EQ(listen.host, "127.0.0.1");
  EXPECT_EQ(listen.port, 22121);
  EXPECT_FALSE(listen.is_unix());

  ASSERT_EQ(ParseListenLine("::1:22122", &listen), std::nullopt);
  EXPECT_EQ(listen.host, "::1");
  EXPECT_EQ(listen.port, 22122);

  ASSERT_EQ(ParseListenLine("localhost:022123", &listen), std::nullopt);
  EXPECT_EQ(listen.host, "localhost");
  EXPECT_EQ(listen.port, 22123);
}

TEST(ListenLine, ReadsAUnixPathWithOptionalOctalPermissions) {
  ListenAddress listen;
  ASSERT_EQ(ParseListenLine("/tmp/ringproxy.sock", &listen), std::nullopt);
  EXPECT_TRUE(listen.is_unix());
  EXPECT_EQ(listen.unix_path, "/tmp/ringproxy.sock");
  EXPECT_EQ(listen.unix_permissions, 0u);
  EXPECT_TRUE(listen.host.empty());

  ASSERT_EQ(ParseListenLine("/tmp/ringproxy.sock 0660", &listen), std::nullopt);
  EXPECT_EQ(listen.unix_path, "/tmp/ringproxy.sock");
  EXPECT_EQ(listen.unix_permissions, 0660u);

  ASSERT_EQ(ParseListenLine("/tmp/ringproxy.sock 777", &listen), std::nullopt);
  EXPECT_EQ(listen.unix_permissions, 0777u);
}

TEST(ListenLine, ReadsPermissionsAsStrtolDoesLikeNutcracker) {
  // nutcracker checks only strtol's errno and the upper bound: text that is no octal number
  // reads as 0 (or as its octal prefix) and is accepted.
  ListenAddress listen;
  ASSERT_EQ(ParseListenLine("/tmp/r.sock abc", &listen), std::nullopt);
  EXPECT_EQ(listen.unix_permissions, 0u);
  ASSERT_EQ(ParseListenLine("/tmp/r.sock 0644x", &listen), std::nullopt);
  EXPECT_EQ(listen.unix_permissions, 0644u);

  EXPECT_EQ(ParseListenLine("/tmp/r.sock 1000", &listen),
            "has an invalid file permission \"1000\": an octal mode up to 0777 is expected");
  EXPECT_EQ(ParseListenLine("/tmp/r.sock -1", &listen),
            "has an invalid file permission \"-1\": an octal mode up to 0777 is expected");
}

TEST(ListenLine, RefusesAUnixPathTooLongForSockaddrUn) {
  ListenAddress listen;
  const std::string fits = "/" + std::string(106, 'a');  // 107 bytes + NUL = sun_path
  EXPECT_EQ(ParseListenLine(fits, &listen), std::nullopt);
  EXPECT_EQ(ParseListenLine(fits + "a", &listen), "has a unix socket path longer than 107 bytes");
}

TEST(ListenLine, RefusesBadPortsAndMissingColon) {
  ListenAddress listen;
  EXPECT_EQ(ParseListenLine("127.0.0.1", &listen),
            "is not \"host:port\" or \"/unix/socket/path [permissions]\"");
  EXPECT_EQ(ParseListenLine("127.0.0.1:0", &listen), "has an invalid port \"0\": expected 1-65535");
  EXPECT_EQ(ParseListenLine("127.0.0.1:", &listen), "has an invalid port \"\": expected 1-65535");
  EXPECT_EQ(ParseListenLine("127.0.0.1:65536", &listen),
            "has an invalid port \"65536\": expected 1-65535");
}

TEST(ListenLine, RefusesAHostThatDoesNotResolve) {
  // Names glibc refuses without asking DNS (a blank, brackets, an empty name): a test must not
  // send queries to the machine's resolver.
  ListenAddress listen;
  const auto unresolvable = ParseListenLine("no such host:22121", &listen);
  ASSERT_TRUE(unresolvable.has_value());
  EXPECT_EQ(*unresolvable,
            "has a host \"no such host\" that does not resolve: Name or service not known");
  // Brackets are not stripped (nutcracker hands them to getaddrinfo too), nor is an empty host
  // taken as the wildcard.
  EXPECT_TRUE(ParseListenLine("[::1]:22121", &listen).has_value());
  EXPECT_TRUE(ParseListenLine(":22121", &listen).has_value());
}

// ---- DNS names ----------------------------------------------------------------------------------

TEST(KubernetesName, AcceptsLowercaseDnsLabels) {
  const std::string longest(63, 'x');
  for (const char* name : {"redis", "redis-headless", "r", "0", "a1-b2", longest.c_str()}) {
    EXPECT_EQ(CheckKubernetesName(name), std::nullopt) << name;
  }
}

TEST(KubernetesName, RefusesWhatCannotBeOneDnsLabel) {
  const std::string too_long(64, 'x');
  for (const char* name :
       {"", "Redis", "redis_0", "-redis", "redis-", "redis.headless", "re dis", too_long.c_str()}) {
    const auto reason = CheckKubernetesName(name);
    ASSERT_TRUE(reason.has_value()) << name;
    EXPECT_TRUE(reason->starts_with("is not a Kubernetes name: 1-63 lowercase letters")) << *reason;
  }
}

TEST(DnsName, AcceptsSrvNamesAndAbsoluteNames) {
  for (const char* name :
       {"_redis._tcp.redis-headless.default.svc.cluster.local", "_redis._tcp.redis-headless",
        "cluster.local", "cluster.local.", "Example.COM", "a"}) {
    EXPECT_EQ(CheckDnsName(name), std::nullopt) << name;
  }
  // 253 characters: four labels of 63 and the dots between them, minus two.
  const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_EQ(CheckDnsName(longest), std::nullopt);
  EXPECT_EQ(CheckDnsName(longest + "."), std::nullopt);
  EXPECT_EQ(CheckDnsName(longest + "d"), "is not a DNS name: it is longer than 253 characters");
}

TEST(DnsName, RefusesEmptyLongAndOddLabels) {
  EXPECT_EQ(CheckDnsName(""),
            "is not a DNS name: it has an empty label (a dot at the start, or two in a row)");
  EXPECT_EQ(CheckDnsName(".local"),
            "is not a DNS name: it has an empty label (a dot at the start, or two in a row)");
  EXPECT_EQ(CheckDnsName("a..b"),
            "is not a DNS name: it has an empty label (a dot at the start, or two in a row)");
  EXPECT_EQ(CheckDnsName("a.."),
            "is not a DNS name: it has an empty label (a dot at the start, or two in a row)");
  EXPECT_EQ(
      CheckDnsName("a." + std::string(64, 'x')),
      "is not a DNS name: label \"" + std::string(64, 'x') + "\" is longer than 63 characters");
  EXPECT_EQ(CheckDnsName("redis headless.svc"),
            "is not a DNS name: label \"redis headless\" holds a character other than letters, "
            "digits, '-' and '_'");
  EXPECT_EQ(CheckDnsName("redis:6379"),
            "is not a DNS name: label \"redis:6379\" holds a character other than letters, "
            "digits, '-' and '_'");
  EXPECT_EQ(CheckDnsName("-redis.svc"),
            "is not a DNS name: label \"-redis\" begins or ends with '-'");
}

// ---- passwords from files and the environment ---------------------------------------------------

class PasswordFile : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "password-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(PasswordFile, StripsOnlyTrailingLineBreaks) {
  const struct {
    const char* content;
    const char* password;
  } cases[] = {{"s3cret", "s3cret"},       {"s3cret\n", "s3cret"},       {"s3cret\r\n", "s3cret"},
               {"s3cret\n\n\r", "s3cret"}, {" s3 cret \n", " s3 cret "}, {"a\nb\n", "a\nb"}};
  for (const auto& c : cases) {
    std::string password;
    EXPECT_EQ(ReadPasswordFile(Write("pw", c.content), &password), std::nullopt) << c.content;
    EXPECT_EQ(password, c.password);
  }
}

TEST_F(PasswordFile, RefusesAMissingEmptyOrHugeFileAndADirectory) {
  std::string password = "unchanged";
  const std::string missing = (dir_ / "absent").string();
  EXPECT_EQ(ReadPasswordFile(missing, &password),
            "cannot be opened (" + missing + "): No such file or directory");
  const std::string empty = Write("empty", "\r\n");
  EXPECT_EQ(ReadPasswordFile(empty, &password),
            "holds no password (" + empty + "): the file is empty");
  const std::string huge = Write("huge", std::string(kMaxPasswordFileBytes + 1, 'x'));
  EXPECT_EQ(ReadPasswordFile(huge, &password),
            "cannot be used (" + huge +
                "): the file is larger than 65536 bytes, too large for a "
                "password");
  EXPECT_EQ(ReadPasswordFile(dir_.string(), &password),
            "cannot be read (" + dir_.string() + "): Is a directory");
  EXPECT_EQ(password, "unchanged");
}

TEST_F(PasswordFile, RefusesAFifoOrADeviceWithoutWaitingOnIt) {
  // Reading a FIFO nobody writes to would block the load forever.
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string password = "unchanged";
  EXPECT_EQ(ReadPasswordFile(fifo, &password), "cannot be used (" + fifo + "): not a regular file");
  EXPECT_EQ(ReadPasswordFile("/dev/zero", &password),
            "cannot be used (/dev/zero): not a regular file");
  EXPECT_EQ(password, "unchanged");
}

TEST(PasswordPath, ResolvesRelativePathsAgainstTheConfigDirectory) {
  EXPECT_EQ(ResolvePasswordPath("/run/secrets/pw", "/etc/ringproxy"), "/run/secrets/pw");
  EXPECT_EQ(ResolvePasswordPath("secrets/pw", "/etc/ringproxy"), "/etc/ringproxy/secrets/pw");
  EXPECT_EQ(ResolvePasswordPath("pw", "/etc/ringproxy/"), "/etc/ringproxy/pw");
  EXPECT_EQ(ResolvePasswordPath("pw", "conf"), "conf/pw");
  EXPECT_EQ(ResolvePasswordPath("pw", ""), "pw");
}

TEST(PasswordEnv, ReadsAVariableWithoutItsTrailingLineBreaks) {
  ASSERT_EQ(setenv("RINGPROXY_TEST_PASSWORD_A", "s3cret\r\n", 1), 0);
  std::string password;
  EXPECT_EQ(ReadPasswordEnv("RINGPROXY_TEST_PASSWORD_A", &password), std::nullopt);
  EXPECT_EQ(password, "s3cret");
  unsetenv("RINGPROXY_TEST_PASSWORD_A");
}

TEST(PasswordEnv, RefusesAnUnsetOrEmptyVariableAndABadName) {
  unsetenv("RINGPROXY_TEST_PASSWORD_UNSET");
  ASSERT_EQ(setenv("RINGPROXY_TEST_PASSWORD_EMPTY", "\n", 1), 0);
  std::string password = "unchanged";
  EXPECT_EQ(ReadPasswordEnv("RINGPROXY_TEST_PASSWORD_UNSET", &password),
            "names an environment variable that is not set");
  EXPECT_EQ(ReadPasswordEnv("RINGPROXY_TEST_PASSWORD_EMPTY", &password),
            "names an environment variable that is empty");
  for (const char* name : {"1PASSWORD", "REDIS-PASSWORD", "A=B", "$PW"}) {
    EXPECT_EQ(ReadPasswordEnv(name, &password),
              "is not an environment variable name: letters, digits and '_', not beginning with a "
              "digit")
        << name;
  }
  EXPECT_EQ(password, "unchanged");
  unsetenv("RINGPROXY_TEST_PASSWORD_EMPTY");
}

// ---- statefulset expansion ----------------------------------------------------------------------

TEST(StatefulSetExpansion, NameDefaultsToTheServiceWithoutHeadless) {
  EXPECT_EQ(DefaultStatefulSetName("redis-headless"), "redis");
  EXPECT_EQ(DefaultStatefulSetName("cache-redis-headless"), "cache-redis");
  EXPECT_EQ(DefaultStatefulSetName("redis"), "redis");
  EXPECT_EQ(DefaultStatefulSetName("redis-headless-svc"), "redis-headless-svc");
  // Nothing would be left: keep the name as it is.
  EXPECT_EQ(DefaultStatefulSetName("-headless"), "-headless");
}

TEST(StatefulSetExpansion, ShortHostsWithoutANamespaceFullOnesWithIt) {
  StatefulSetConfig statefulset;
  statefulset.service = "redis-headless";
  statefulset.replicas = 2;
  std::vector<ServerConfig> servers;
  ASSERT_EQ(ExpandStatefulSet(&statefulset, {3, 3}, &servers), std::nullopt);
  EXPECT_EQ(statefulset.name, "redis");
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[1].host, "redis-1.redis-headless");
  EXPECT_EQ(servers[1].port, 6379);
  EXPECT_EQ(servers[1].weight, 1u);
  EXPECT_EQ(servers[1].name, "redis-1");
  EXPECT_TRUE(servers[1].has_explicit_name);
  EXPECT_EQ(servers[1].where, (SourceLocation{3, 3}));

  statefulset.namespace_name = "prod";
  statefulset.cluster_domain = "k8s.example.";
  EXPECT_EQ(StatefulSetPodHost(statefulset, 7), "redis-7.redis-headless.prod.svc.k8s.example.");
}

TEST(StatefulSetExpansion, RefusesPodNamesAndHostsTooLongForDns) {
  StatefulSetConfig statefulset;
  statefulset.service = "s";
  statefulset.name = std::string(59, 'r');  // "-999" makes 63: fits; "-1000" does not
  statefulset.replicas = 1000;
  std::vector<ServerConfig> servers;
  EXPECT_EQ(ExpandStatefulSet(&statefulset, {}, &servers), std::nullopt);
  EXPECT_EQ(servers.size(), 1000u);

  statefulset.replicas = 1001;
  servers.clear();
  EXPECT_EQ(ExpandStatefulSet(&statefulset, {}, &servers),
            "pod name \"" + statefulset.name +
                "-1000\" is longer than 63 characters: a pod name is one DNS label; choose a "
                "shorter name");
  EXPECT_TRUE(servers.empty());

  statefulset.replicas = 3;
  statefulset.namespace_name = "default";
  statefulset.cluster_domain =
      std::string(63, 'c') + "." + std::string(63, 'd') + "." + std::string(63, 'e');
  const auto reason = ExpandStatefulSet(&statefulset, {}, &servers);
  ASSERT_TRUE(reason.has_value());
  EXPECT_TRUE(reason->ends_with("\" is not a DNS name: it is longer than 253 characters"))
      << *reason;
  EXPECT_TRUE(servers.empty());
}

// ---- the directive table ------------------------------------------------------------------------

TEST(PoolKeys, ListsNutcrackersDirectivesInItsOrderThenRingproxysExtensions) {
  std::vector<std::string_view> nutcracker;
  std::vector<std::string_view> extensions;
  for (const PoolKey& key : PoolKeys()) {
    if (key.nutcracker) {
      EXPECT_TRUE(extensions.empty()) << key.name << " comes after an extension";
      nutcracker.push_back(key.name);
    } else {
      extensions.push_back(key.name);
    }
  }
  const std::vector<std::string_view> expected_nutcracker = {"listen",
                                                             "hash",
                                                             "hash_tag",
                                                             "distribution",
                                                             "timeout",
                                                             "backlog",
                                                             "client_connections",
                                                             "redis",
                                                             "tcpkeepalive",
                                                             "reuseport",
                                                             "redis_auth",
                                                             "redis_db",
                                                             "preconnect",
                                                             "auto_eject_hosts",
                                                             "server_connections",
                                                             "server_retry_timeout",
                                                             "server_failure_limit",
                                                             "servers"};
  EXPECT_EQ(nutcracker, expected_nutcracker);
  const std::vector<std::string_view> expected_extensions = {"statefulset",
                                                             "srv",
                                                             "redis_auth_file",
                                                             "redis_auth_env",
                                                             "server_auth",
                                                             "server_auth_file",
                                                             "server_auth_env",
                                                             "server_auth_user",
                                                             "tls",
                                                             "server_tls",
                                                             "max_clients",
                                                             "client_idle_timeout",
                                                             "max_pinned_connections",
                                                             "client_output_buffer_limit",
                                                             "client_query_buffer_limit",
                                                             "refuse_scripts",
                                                             "allow_flush"};
  EXPECT_EQ(extensions, expected_extensions);
}

TEST(PoolKeys, FindsEachRowByItsExactName) {
  for (const PoolKey& key : PoolKeys()) {
    EXPECT_EQ(FindPoolKey(key.name), &key) << key.name;
    EXPECT_FALSE(key.doc.empty()) << key.name;
    for (const PoolSubKey& entry : key.entries) {
      EXPECT_EQ(FindPoolSubKey(key, entry.name), &entry) << key.name << "." << entry.name;
      EXPECT_FALSE(entry.doc.empty()) << key.name << "." << entry.name;
    }
  }
  EXPECT_EQ(FindPoolKey("Listen"), nullptr);
  EXPECT_EQ(FindPoolKey("server"), nullptr);
  EXPECT_EQ(FindPoolKey(""), nullptr);
  EXPECT_EQ(FindPoolSubKey(*FindPoolKey("statefulset"), "replica"), nullptr);
  EXPECT_EQ(FindPoolSubKey(*FindPoolKey("listen"), "port"), nullptr);
}

TEST(PoolKeys, OnlyListenIsRequiredAndShapesAndGroupsAreAsDocumented) {
  using Group = PoolKey::Group;
  using Shape = PoolKey::Shape;
  for (const PoolKey& key : PoolKeys()) {
    EXPECT_EQ(key.required, key.name == "listen") << key.name;
    const bool mapping = key.name == "statefulset" || key.name == "tls" || key.name == "server_tls";
    const Shape shape = key.name == "servers" ? Shape::kList
                        : mapping             ? Shape::kMapping
                                              : Shape::kScalar;
    EXPECT_EQ(key.shape, shape) << key.name;
    EXPECT_EQ(key.entries.empty(), shape != Shape::kMapping) << key.name;
    const bool server_password = key.name == "server_auth" || key.name == "server_auth_file" ||
                                 key.name == "server_auth_env";
    const Group group = key.name == "servers" || key.name == "statefulset" || key.name == "srv"
                            ? Group::kMembers
                        : key.name.starts_with("redis_auth") ? Group::kPassword
                        : server_password                    ? Group::kServerPassword
                                                             : Group::kNone;
    EXPECT_EQ(key.group, group) << key.name;
  }
}

// The documented default of each row, parsed as if written in the file, must leave a
// default-constructed PoolConfig unchanged: the table and the struct agree.
TEST(PoolKeys, DocumentedDefaultsMatchPoolConfigDefaults) {
  int checked = 0;
  for (const PoolKey& key : PoolKeys()) {
    for (const PoolSubKey& entry : key.entries) {
      if (entry.default_text.empty()) {
        continue;
      }
      PoolConfig pool;
      YamlNode value;
      value.text = std::string(entry.default_text);
      ASSERT_EQ(entry.parse(value, PoolKeyContext{}, &pool), std::nullopt) << entry.name;
      EXPECT_EQ(pool, PoolConfig{})
          << key.name << "." << entry.name << " default \"" << entry.default_text << "\"";
      ++checked;
    }
    if (key.default_text.empty()) {
      continue;
    }
    PoolConfig pool;
    YamlNode value;
    value.text = std::string(key.default_text);
    ASSERT_EQ(key.parse(value, PoolKeyContext{}, &pool), std::nullopt) << key.name;
    EXPECT_EQ(pool, PoolConfig{}) << key.name << " default \"" << key.default_text << "\"";
    ++checked;
  }
  // All but listen, servers, hash_tag, redis_auth and timeout, and the extensions other than
  // max_clients and client_idle_timeout, which have no default (nor have the output and query
  // buffer limits, whose defaults are the command line's); and statefulset's port,
  // cluster_domain and weight, tls's auth_clients, ciphers and handshake_timeout, and
  // server_tls's verify and ciphers; refuse_scripts and allow_flush have theirs.
  EXPECT_EQ(checked, 13 + 3 + 3 + 3 + 2 + 1 + 1);
}

TEST(ByteSize, ReadsRedisUnits) {
  std::string reason;
  EXPECT_EQ(ParseByteSize("100", &reason), 100u);
  EXPECT_EQ(ParseByteSize("1k", &reason), 1000u);
  EXPECT_EQ(ParseByteSize("1kb", &reason), 1024u);
  EXPECT_EQ(ParseByteSize("32MB", &reason), 32u << 20);
  EXPECT_EQ(ParseByteSize("1Gb", &reason), 1u << 30);
  EXPECT_EQ(ParseByteSize("2g", &reason), 2000000000u);
  for (const char* bad : {"", "mb", "-1", "1.5mb", "1 mb", "1tb", "99999999999999999999"}) {
    EXPECT_EQ(ParseByteSize(bad, &reason), std::nullopt) << bad;
    EXPECT_FALSE(reason.empty()) << bad;
  }
  EXPECT_EQ(ParseByteSize("20000000000gb", &reason), std::nullopt);
  EXPECT_EQ(reason, "is too large");
}

TEST(ByteSize, OutputBufferLimitIsHardSoftAndSeconds) {
  std::string reason;
  const std::optional<OutputBufferLimit> limit = ParseOutputBufferLimit("256mb 64mb 30", &reason);
  ASSERT_TRUE(limit) << reason;
  EXPECT_EQ(*limit, (OutputBufferLimit{256u << 20, 64u << 20, 30}));
  EXPECT_EQ(ParseOutputBufferLimit("0 0 0", &reason), (OutputBufferLimit{0, 0, 0}));
  EXPECT_EQ(ParseOutputBufferLimit("1gb 32mb", &reason), std::nullopt);
  EXPECT_EQ(ParseOutputBufferLimit("1mb 32mb 10", &reason), std::nullopt);
  EXPECT_EQ(reason, "has a soft limit above its hard limit");
  EXPECT_EQ(ParseOutputBufferLimit("1gb 32mb 1s", &reason), std::nullopt);
}

}  // namespace
}  // namespace ringproxy::config
