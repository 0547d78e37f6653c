// The value parsers on their own: numbers, server lines, listen lines, and the directive table.
#include <gtest/gtest.h>

#include <string>

#include "config/listen_line.h"
#include "config/nutcracker_number.h"
#include "config/pool_key.h"
#include "config/server_line.h"
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

// ---- the directive table ------------------------------------------------------------------------

TEST(PoolKeys, ListsNutcrackersDirectivesInItsOrder) {
  std::vector<std::string_view> names;
  for (const PoolKey& key : PoolKeys()) {
    names.push_back(key.name);
  }
  const std::vector<std::string_view> expected = {"listen",
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
  EXPECT_EQ(names, expected);
}

TEST(PoolKeys, FindsEachRowByItsExactName) {
  for (const PoolKey& key : PoolKeys()) {
    EXPECT_EQ(FindPoolKey(key.name), &key) << key.name;
    EXPECT_FALSE(key.doc.empty()) << key.name;
  }
  EXPECT_EQ(FindPoolKey("Listen"), nullptr);
  EXPECT_EQ(FindPoolKey("server"), nullptr);
  EXPECT_EQ(FindPoolKey(""), nullptr);
}

TEST(PoolKeys, OnlyListenAndServersAreRequiredAndOnlyServersIsAList) {
  for (const PoolKey& key : PoolKeys()) {
    const bool is_servers = key.name == "servers";
    EXPECT_EQ(key.required, is_servers || key.name == "listen") << key.name;
    EXPECT_EQ(key.shape == PoolKey::Shape::kList, is_servers) << key.name;
  }
}

// The documented default of each row, parsed as if written in the file, must leave a
// default-constructed PoolConfig unchanged: the table and the struct agree.
TEST(PoolKeys, DocumentedDefaultsMatchPoolConfigDefaults) {
  int checked = 0;
  for (const PoolKey& key : PoolKeys()) {
    if (key.default_text.empty()) {
      continue;
    }
    PoolConfig pool;
    YamlNode value;
    value.text = std::string(key.default_text);
    ASSERT_EQ(key.parse(value, &pool), std::nullopt) << key.name;
    EXPECT_EQ(pool, PoolConfig{}) << key.name << " default \"" << key.default_text << "\"";
    ++checked;
  }
  EXPECT_EQ(checked, 13);  // all but listen, servers, hash_tag, redis_auth and timeout
}

}  // namespace
}  // namespace ringproxy::config
