// The loader end to end: valid files with every parsed value (defaults included), invalid files
// with the exact "file:line:column: message", and every shipped example.
#include "config/config_loader.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "config/pool_key.h"
#include "hashing/hash_function.h"

namespace ringproxy::config {
namespace {

template <class Case>
std::string TitleOf(const testing::TestParamInfo<Case>& param_info) {
  return param_info.param.title;
}

constexpr const char* kMinimal =
    "alpha:\n"
    "  listen: 127.0.0.1:22121\n"
    "  redis: true\n"
    "  servers:\n"
    "    - 127.0.0.1:7001:1\n";

Config LoadOk(std::string_view text) {
  const LoadResult result = LoadConfigString(text, "t.yml");
  EXPECT_TRUE(result.ok()) << result.error.ToString();
  return result.ok() ? *result.config : Config{};
}

std::string LoadError(std::string_view text) {
  const LoadResult result = LoadConfigString(text, "t.yml");
  EXPECT_FALSE(result.ok()) << text;
  return result.ok() ? std::string() : result.error.ToString();
}

// Positions are checked by their own tests; value tables compare everything else.
PoolConfig WithoutPositions(PoolConfig pool) {
  pool.where = {};
  for (ServerConfig& server : pool.servers) {
    server.where = {};
  }
  return pool;
}

ServerConfig Server(std::string host, uint16_t port, uint32_t weight, std::string name,
                    bool explicit_name) {
  ServerConfig server;
  server.host = std::move(host);
  server.port = port;
  server.weight = weight;
  server.name = std::move(name);
  server.has_explicit_name = explicit_name;
  return server;
}

// What kMinimal loads to, written out field by field rather than taken from PoolConfig{}: these
// are nutcracker's defaults (nc_conf.h), the thing under test.
PoolConfig MinimalPool() {
  PoolConfig pool;
  pool.name = "alpha";
  pool.listen.host = "127.0.0.1";
  pool.listen.port = 22121;
  pool.hash = hashing::HashKind::kFnv1a_64;
  pool.hash_tag = "";
  pool.distribution = hashing::Distribution::kKetama;
  pool.timeout_ms = -1;
  pool.backlog = 512;
  pool.client_connections = 0;
  pool.redis = true;
  pool.redis_auth = "";
  pool.redis_db = 0;
  pool.tcpkeepalive = false;
  pool.reuseport = false;
  pool.preconnect = false;
  pool.auto_eject_hosts = false;
  pool.server_connections = 1;
  pool.server_retry_timeout_ms = 30000;
  pool.server_failure_limit = 2;
  pool.max_clients = 0;             // ringproxy's: no limit
  pool.client_idle_timeout_ms = 0;  // ringproxy's: never
  pool.servers = {Server("127.0.0.1", 7001, 1, "127.0.0.1:7001", false)};
  return pool;
}

TEST(ConfigLoader, MinimalPoolGetsNutcrackersDefaults) {
  const Config config = LoadOk(kMinimal);
  EXPECT_EQ(config.path, "t.yml");
  ASSERT_EQ(config.pools.size(), 1u);
  EXPECT_EQ(WithoutPositions(config.pools[0]), MinimalPool());
}

TEST(ConfigLoader, RecordsWhereEachPoolAndServerIs) {
  const Config config = LoadOk(kMinimal);
  ASSERT_EQ(config.pools.size(), 1u);
  EXPECT_EQ(config.pools[0].where, (SourceLocation{1, 1}));
  ASSERT_EQ(config.pools[0].servers.size(), 1u);
  EXPECT_EQ(config.pools[0].servers[0].where, (SourceLocation{5, 7}));
}

struct ValidCase {
  const char* title;
  const char* text;
  std::function<void(PoolConfig*)> expect;  // applied to MinimalPool()
};

class ValidConfig : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidConfig, LoadsWithExpectedValues) {
  const Config config = LoadOk(GetParam().text);
  ASSERT_EQ(config.pools.size(), 1u);
  PoolConfig expected = MinimalPool();
  GetParam().expect(&expected);
  EXPECT_EQ(WithoutPositions(config.pools[0]), expected);
}

INSTANTIATE_TEST_SUITE_P(
    Nutcracker, ValidConfig,
    testing::Values(ValidCase{"EveryDirective",
                              "alpha:\n"
                              "  listen: 0.0.0.0:6379\n"
                              "  hash: murmur\n"
                              "  hash_tag: \"{}\"\n"
                              "  distribution: modula\n"
                              "  timeout: 400\n"
                              "  backlog: 1024\n"
                              "  client_connections: 100\n"
                              "  redis: true\n"
                              "  tcpkeepalive: true\n"
                              "  reuseport: true\n"
                              "  redis_auth: s3cret\n"
                              "  redis_db: 3\n"
                              "  preconnect: true\n"
                              "  auto_eject_hosts: true\n"
                              "  server_connections: 4\n"
                              "  server_retry_timeout: 2000\n"
                              "  server_failure_limit: 1\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) {
                                p->listen.host = "0.0.0.0";
                                p->listen.port = 6379;
                                p->hash = hashing::HashKind::kMurmur;
                                p->hash_tag = "{}";
                                p->distribution = hashing::Distribution::kModula;
                                p->timeout_ms = 400;
                                p->backlog = 1024;
                                p->client_connections = 100;
                                p->tcpkeepalive = true;
                                p->reuseport = true;
                                p->redis_auth = "s3cret";
                                p->redis_db = 3;
                                p->preconnect = true;
                                p->auto_eject_hosts = true;
                                p->server_connections = 4;
                                p->server_retry_timeout_ms = 2000;
                                p->server_failure_limit = 1;
                              }},
                    ValidCase{"DirectivesInAnyOrderAndQuotedValues",
                              "alpha:\n"
                              "  servers:\n"
                              "    - \"127.0.0.1:7001:1\"\n"
                              "  redis: 'true'\n"
                              "  timeout: \"0\"\n"
                              "  listen: '127.0.0.1:22121'\n",
                              [](PoolConfig* p) { p->timeout_ms = 0; }},
                    ValidCase{"LargestNumber",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  server_retry_timeout: 2147483647\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) { p->server_retry_timeout_ms = 2147483647; }},
                    ValidCase{"LeadingZerosInNumbers",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  timeout: 0400\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) { p->timeout_ms = 400; }},
                    ValidCase{"PasswordSpeltNullIsText",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  redis_auth: null\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) { p->redis_auth = "null"; }},
                    ValidCase{"XxhashIsOurs",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  hash: xxh3\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) { p->hash = hashing::HashKind::kXxh3; }},
                    ValidCase{"UnixListenWithPermissions",
                              "alpha:\n"
                              "  listen: /tmp/ringproxy-test.sock 0660\n"
                              "  redis: true\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) {
                                p->listen = ListenAddress{.host = "",
                                                          .port = 0,
                                                          .unix_path = "/tmp/ringproxy-test.sock",
                                                          .unix_permissions = 0660};
                              }},
                    ValidCase{"Ipv6Listen",
                              "alpha:\n"
                              "  listen: ::1:22121\n"
                              "  redis: true\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1\n",
                              [](PoolConfig* p) { p->listen.host = "::1"; }},
                    ValidCase{"ServersSortedByNameShorterFirst",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7003:1 server-10\n"
                              "    - 127.0.0.1:7001:1 server-2\n"
                              "    - 127.0.0.1:7002:1 server-1\n"
                              "    - /tmp/r.sock:3\n",
                              [](PoolConfig* p) {
                                ServerConfig unix_server;
                                unix_server.unix_path = "/tmp/r.sock";
                                unix_server.weight = 3;
                                unix_server.name = "/tmp/r.sock:";
                                p->servers = {Server("127.0.0.1", 7002, 1, "server-1", true),
                                              Server("127.0.0.1", 7001, 1, "server-2", true),
                                              Server("127.0.0.1", 7003, 1, "server-10", true),
                                              unix_server};
                              }},
                    ValidCase{"UnnamedServersWithWeights",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7010:2\n"
                              "    - 127.0.0.1:7002:5\n"
                              "    - 127.0.0.1:11211:1\n",
                              [](PoolConfig* p) {
                                p->servers = {
                                    Server("127.0.0.1", 11211, 1, "127.0.0.1", false),
                                    Server("127.0.0.1", 7002, 5, "127.0.0.1:7002", false),
                                    Server("127.0.0.1", 7010, 2, "127.0.0.1:7010", false)};
                              }},
                    ValidCase{"SameAddressUnderTwoNames",
                              "alpha:\n"
                              "  listen: 127.0.0.1:22121\n"
                              "  redis: true\n"
                              "  servers:\n"
                              "    - 127.0.0.1:7001:1 b\n"
                              "    - 127.0.0.1:7001:1 a\n",
                              [](PoolConfig* p) {
                                p->servers = {Server("127.0.0.1", 7001, 1, "a", true),
                                              Server("127.0.0.1", 7001, 1, "b", true)};
                              }},
                    ValidCase{"CommentsBlankLinesAndByteOrderMark",
                              "\xEF\xBB\xBF# pools\n"
                              "\n"
                              "alpha:   # the only one\n"
                              "  listen: 127.0.0.1:22121  # loopback\n"
                              "\n"
                              "  redis: true\n"
                              "  servers:\n"
                              "  - 127.0.0.1:7001:1\n",
                              [](PoolConfig* /*p*/) {}}),
    TitleOf<ValidCase>);

TEST(ConfigLoader, AcceptsEveryHashNameAndDistribution) {
  for (const std::string_view name : hashing::HashKindNames()) {
    const std::string text =
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  hash: " + std::string(name) +
        "\n  servers:\n    - 127.0.0.1:7001:1\n";
    const Config config = LoadOk(text);
    ASSERT_EQ(config.pools.size(), 1u) << name;
    EXPECT_EQ(hashing::HashKindName(config.pools[0].hash), name);
  }
  for (const char* name : {"ketama", "modula", "random"}) {
    const std::string text =
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  distribution: " + std::string(name) +
        "\n  servers:\n    - 127.0.0.1:7001:1\n";
    const Config config = LoadOk(text);
    ASSERT_EQ(config.pools.size(), 1u) << name;
    EXPECT_EQ(hashing::DistributionName(config.pools[0].distribution), name);
  }
}

TEST(ConfigLoader, KeepsPoolsInFileOrder) {
  const Config config = LoadOk(
      "zeta:\n"
      "  listen: 127.0.0.1:22122\n"
      "  redis: true\n"
      "  servers:\n"
      "    - 127.0.0.1:7002:1\n"
      "alpha:\n"
      "  listen: 127.0.0.1:22121\n"
      "  redis: true\n"
      "  servers:\n"
      "    - 127.0.0.1:7001:1\n");
  ASSERT_EQ(config.pools.size(), 2u);
  EXPECT_EQ(config.pools[0].name, "zeta");
  EXPECT_EQ(config.pools[0].where, (SourceLocation{1, 1}));
  EXPECT_EQ(config.pools[1].name, "alpha");
  EXPECT_EQ(config.pools[1].where, (SourceLocation{6, 1}));
}

// ---- invalid files ------------------------------------------------------------------------------

struct InvalidCase {
  const char* title;
  const char* text;
  const char* error;  // the whole ConfigError::ToString()
};

class InvalidConfig : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidConfig, FailsWithPositionAndMessage) {
  EXPECT_EQ(LoadError(GetParam().text), GetParam().error);
}

// A pool body with one directive line replaced, for the value tables below: line 3, column 3
// is the directive, its value starts after "  key: ".
#define POOL_WITH(line)              \
  "alpha:\n"                         \
  "  listen: 127.0.0.1:22121\n" line \
  "\n"                               \
  "  redis: true\n"                  \
  "  servers:\n"                     \
  "    - 127.0.0.1:7001:1\n"

INSTANTIATE_TEST_SUITE_P(
    Document, InvalidConfig,
    testing::Values(
        InvalidCase{"EmptyFile", "",
                    "t.yml: has no pools: the file is empty (expected a mapping of pool names to "
                    "pools)"},
        InvalidCase{"OnlyComments", "# nothing here\n",
                    "t.yml: has no pools: the file is empty (expected a mapping of pool names to "
                    "pools)"},
        InvalidCase{"TopLevelScalar", "alpha\n",
                    "t.yml:1:1: the top level must be a mapping of pool names to pools "
                    "(\"alpha:\" followed by its indented directives)"},
        InvalidCase{"TopLevelList", "- alpha\n- beta\n",
                    "t.yml:1:1: the top level must be a mapping of pool names to pools "
                    "(\"alpha:\" followed by its indented directives)"},
        InvalidCase{"PoolIsAScalar", "alpha: 127.0.0.1:22121\n",
                    "t.yml:1:8: pool \"alpha\" must be a mapping of directives (\"listen: ...\", "
                    "\"servers: ...\"), one per line"},
        InvalidCase{"PoolIsEmpty", "alpha:\n",
                    "t.yml:1:1: pool \"alpha\" must be a mapping of directives (\"listen: ...\", "
                    "\"servers: ...\"), one per line"},
        InvalidCase{"PoolIsAList", "alpha:\n  - listen\n",
                    "t.yml:2:3: pool \"alpha\" must be a mapping of directives (\"listen: ...\", "
                    "\"servers: ...\"), one per line"},
        InvalidCase{"EmptyPoolName", "\"\":\n  listen: 127.0.0.1:22121\n",
                    "t.yml:1:1: a pool name must be non-empty text"},
        InvalidCase{"DocumentMarker", "---\nalpha:\n  listen: 127.0.0.1:22121\n",
                    "t.yml:1:1: document markers (\"---\", \"...\") are not accepted: nutcracker "
                    "refuses them; a configuration is a single document without markers"},
        InvalidCase{"FlowServers",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                    "  servers: [127.0.0.1:7001:1]\n",
                    "t.yml:4:12: flow lists (\"[...]\") are not accepted: nutcracker refuses them; "
                    "write one \"- item\" per line"},
        InvalidCase{"SyntaxError", "alpha:\n  listen: 127.0.0.1:22121\n redis: true\n",
                    "t.yml:3:2: YAML syntax error: end of map not found"},
        InvalidCase{"TabIndentation", "alpha:\n\tlisten: 127.0.0.1:22121\n",
                    "t.yml:2:8: YAML syntax error: illegal map value"}),
    TitleOf<InvalidCase>);

INSTANTIATE_TEST_SUITE_P(
    Directives, InvalidConfig,
    testing::Values(
        InvalidCase{"UnknownDirective", POOL_WITH("  hsah: md5"),
                    "t.yml:3:3: directive \"hsah\" is unknown; known directives: listen, hash, "
                    "hash_tag, distribution, timeout, backlog, client_connections, redis, "
                    "tcpkeepalive, reuseport, redis_auth, redis_db, preconnect, auto_eject_hosts, "
                    "server_connections, server_retry_timeout, server_failure_limit, servers, "
                    "statefulset, srv, redis_auth_file, redis_auth_env, server_auth, "
                    "server_auth_file, server_auth_env, server_auth_user, tls, server_tls, "
                    "max_clients, client_idle_timeout, max_pinned_connections, "
                    "client_output_buffer_limit, client_query_buffer_limit, refuse_scripts, "
                    "allow_flush"},
        InvalidCase{"DirectiveNamesAreCaseSensitive", POOL_WITH("  Hash: md5"),
                    "t.yml:3:3: directive \"Hash\" is unknown; known directives: listen, hash, "
                    "hash_tag, distribution, timeout, backlog, client_connections, redis, "
                    "tcpkeepalive, reuseport, redis_auth, redis_db, preconnect, auto_eject_hosts, "
                    "server_connections, server_retry_timeout, server_failure_limit, servers, "
                    "statefulset, srv, redis_auth_file, redis_auth_env, server_auth, "
                    "server_auth_file, server_auth_env, server_auth_user, tls, server_tls, "
                    "max_clients, client_idle_timeout, max_pinned_connections, "
                    "client_output_buffer_limit, client_query_buffer_limit, refuse_scripts, "
                    "allow_flush"},
        InvalidCase{"DuplicateDirective", POOL_WITH("  listen: 127.0.0.1:22122"),
                    "t.yml:3:3: directive \"listen\" is a duplicate (first given at 2:3)"},
        InvalidCase{"EmptyValue", POOL_WITH("  hash:"),
                    "t.yml:3:3: directive \"hash\" has no value"},
        InvalidCase{"EmptyQuotedValue", POOL_WITH("  hash_tag: \"\""),
                    "t.yml:3:13: directive \"hash_tag\" has no value"},
        InvalidCase{"ValueIsAMapping", POOL_WITH("  hash:\n    name: md5"),
                    "t.yml:4:5: directive \"hash\" must be a single value, not a mapping"},
        InvalidCase{"ValueIsAList", POOL_WITH("  hash:\n    - md5"),
                    "t.yml:4:5: directive \"hash\" must be a single value, not a list"},
        InvalidCase{"UnknownHash", POOL_WITH("  hash: fnv1a64"),
                    "t.yml:3:9: hash \"fnv1a64\" is not one of: one_at_a_time, md5, crc16, crc32, "
                    "crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins, xxh3"},
        InvalidCase{"HashNamesAreCaseSensitive", POOL_WITH("  hash: MD5"),
                    "t.yml:3:9: hash \"MD5\" is not one of: one_at_a_time, md5, crc16, crc32, "
                    "crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins, xxh3"},
        InvalidCase{"UnknownDistribution", POOL_WITH("  distribution: consistent"),
                    "t.yml:3:17: distribution \"consistent\" is not one of: ketama, modula, "
                    "random"},
        InvalidCase{"HashTagOfOneCharacter", POOL_WITH("  hash_tag: \"{\""),
                    "t.yml:3:13: hash_tag \"{\" is not two characters (an opening and a closing "
                    "one, e.g. \"{}\")"},
        InvalidCase{"HashTagOfThreeCharacters", POOL_WITH("  hash_tag: \"{}}\""),
                    "t.yml:3:13: hash_tag \"{}}\" is not two characters (an opening and a closing "
                    "one, e.g. \"{}\")"},
        InvalidCase{"HashTagOfTwoNonAsciiCharacters", POOL_WITH("  hash_tag: \"\xC2\xAB\xC2\xBB\""),
                    "t.yml:3:13: hash_tag \"\xC2\xAB\xC2\xBB\" is not two characters (an opening "
                    "and a closing one, e.g. \"{}\")"},
        InvalidCase{"NegativeTimeout", POOL_WITH("  timeout: -1"),
                    "t.yml:3:12: timeout \"-1\" is not a number: only the digits 0-9 are accepted "
                    "(no sign, no blanks)"},
        InvalidCase{"FractionalTimeout", POOL_WITH("  timeout: 1.5"),
                    "t.yml:3:12: timeout \"1.5\" is not a number: only the digits 0-9 are "
                    "accepted (no sign, no blanks)"},
        InvalidCase{"HugeBacklog", POOL_WITH("  backlog: 2147483648"),
                    "t.yml:3:12: backlog \"2147483648\" is too large: the largest accepted number "
                    "is 2147483647"},
        InvalidCase{"NullTimeout", POOL_WITH("  timeout: ~"),
                    "t.yml:3:12: timeout \"~\" is not a number: only the digits 0-9 are accepted "
                    "(no sign, no blanks)"},
        InvalidCase{"YesIsNoBoolean", POOL_WITH("  preconnect: yes"),
                    "t.yml:3:15: preconnect \"yes\" is not \"true\" or \"false\" (nutcracker "
                    "accepts only these two)"},
        InvalidCase{"CapitalisedBoolean", POOL_WITH("  tcpkeepalive: True"),
                    "t.yml:3:17: tcpkeepalive \"True\" is not \"true\" or \"false\" (nutcracker "
                    "accepts only these two)"},
        InvalidCase{"ZeroServerConnections", POOL_WITH("  server_connections: 0"),
                    "t.yml:3:23: server_connections \"0\" cannot be 0: at least one connection "
                    "per server is needed"},
        InvalidCase{"ListenWithoutPort",
                    "alpha:\n  listen: 127.0.0.1\n  redis: true\n  servers:\n    - h:1:1\n",
                    "t.yml:2:11: listen \"127.0.0.1\" is not \"host:port\" or "
                    "\"/unix/socket/path [permissions]\""},
        InvalidCase{"ListenPortZero",
                    "alpha:\n  listen: 127.0.0.1:0\n  redis: true\n  servers:\n    - h:1:1\n",
                    "t.yml:2:11: listen \"127.0.0.1:0\" has an invalid port \"0\": expected "
                    "1-65535"},
        InvalidCase{"ListenUnixPermissionTooLarge",
                    "alpha:\n  listen: /tmp/r.sock 1777\n  redis: true\n  servers:\n"
                    "    - h:1:1\n",
                    "t.yml:2:11: listen \"/tmp/r.sock 1777\" has an invalid file permission "
                    "\"1777\": an octal mode up to 0777 is expected"}),
    TitleOf<InvalidCase>);

INSTANTIATE_TEST_SUITE_P(
    Servers, InvalidConfig,
    testing::Values(
        InvalidCase{"ServersIsAScalar",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                    "  servers: 127.0.0.1:7001:1\n",
                    "t.yml:4:12: directive \"servers\" must be a list, one \"- "
                    "host:port:weight [name]\" per line"},
        InvalidCase{"ServersIsEmpty",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n",
                    "t.yml:4:3: directive \"servers\" must be a list, one \"- "
                    "host:port:weight [name]\" per line"},
        InvalidCase{"ServerEntryIsAMapping",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - host: 127.0.0.1\n",
                    "t.yml:5:7: servers entries must be single values such as "
                    "\"127.0.0.1:6379:1 redis-0\""},
        InvalidCase{"ServerEntryIsEmpty",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - \"\"\n",
                    "t.yml:5:7: servers has an empty entry"},
        InvalidCase{"ServerWithoutWeight",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:1\n    - 127.0.0.1:7002\n",
                    "t.yml:6:7: servers entry \"127.0.0.1:7002\" is not \"host:port:weight "
                    "[name]\" or \"/unix/socket/path:weight [name]\""},
        InvalidCase{"ServerWithZeroWeight",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:0 a\n",
                    "t.yml:5:7: servers entry \"127.0.0.1:7001:0 a\" has a zero weight: a weight "
                    "must be at least 1"},
        InvalidCase{"ServerWithBadPort",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:99999:1\n",
                    "t.yml:5:7: servers entry \"127.0.0.1:99999:1\" has an invalid port \"99999\": "
                    "expected 1-65535"},
        InvalidCase{"DuplicateExplicitNames",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:1 shard\n    - 127.0.0.1:7002:1 other\n"
                    "    - 127.0.0.1:7003:1 shard\n",
                    "t.yml:7:7: pool \"alpha\" has two servers named \"shard\" (the first at 5:7); "
                    "give each server a distinct name"},
        InvalidCase{"DuplicateImplicitNames",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:1\n    - 127.0.0.1:7001:2\n",
                    "t.yml:6:7: pool \"alpha\" has two servers named \"127.0.0.1:7001\" (the "
                    "first at 5:7); give each server a distinct name"},
        InvalidCase{"ExplicitNameEqualToAnotherServersAddress",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:1\n    - 127.0.0.1:7002:1 127.0.0.1:7001\n",
                    "t.yml:6:7: pool \"alpha\" has two servers named \"127.0.0.1:7001\" (the "
                    "first at 5:7); give each server a distinct name"}),
    TitleOf<InvalidCase>);

INSTANTIATE_TEST_SUITE_P(
    Pools, InvalidConfig,
    testing::Values(
        InvalidCase{"MissingListen", "alpha:\n  redis: true\n  servers:\n    - 127.0.0.1:7001:1\n",
                    "t.yml:1:1: pool \"alpha\" has no \"listen\" directive"},
        InvalidCase{"MissingServers", "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n",
                    "t.yml:1:1: pool \"alpha\" has no \"servers\" directive (nor ringproxy's "
                    "\"statefulset\" or \"srv\")"},
        InvalidCase{"MemcachePoolByDefault",
                    "alpha:\n  listen: 127.0.0.1:22121\n  servers:\n    - 127.0.0.1:11211:1\n",
                    "t.yml:1:1: pool \"alpha\" is a memcache pool (nutcracker's default when "
                    "\"redis: true\" is absent); ringproxy speaks Redis only: set \"redis: true\""},
        InvalidCase{"ExplicitMemcachePool",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: false\n  servers:\n"
                    "    - 127.0.0.1:11211:1\n",
                    "t.yml:3:10: pool \"alpha\" is a memcache pool (nutcracker's default when "
                    "\"redis: true\" is absent); ringproxy speaks Redis only: set \"redis: "
                    "true\""},
        InvalidCase{"RedisAuthOnAMemcachePool",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis_auth: pw\n  servers:\n"
                    "    - 127.0.0.1:11211:1\n",
                    "t.yml:1:1: pool \"alpha\" is a memcache pool (nutcracker's default when "
                    "\"redis: true\" is absent); ringproxy speaks Redis only: set \"redis: "
                    "true\""},
        InvalidCase{"SamePoolNameTwice",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:1\n"
                    "alpha:\n  listen: 127.0.0.1:22122\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7002:1\n",
                    "t.yml:6:1: pool \"alpha\" is defined twice (first at 1:1)"},
        InvalidCase{"SameListenTwice",
                    "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7001:1\n"
                    "beta:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                    "    - 127.0.0.1:7002:1\n",
                    "t.yml:7:11: pools \"alpha\" and \"beta\" have the same listen address "
                    "\"127.0.0.1:22121\""}),
    TitleOf<InvalidCase>);

#undef POOL_WITH

TEST(ConfigLoader, TreatsListenAddressesAsTextWhenComparingPools) {
  // nutcracker compares the listen values as written, so these two pools are distinct to it.
  const Config config = LoadOk(
      "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n    - 127.0.0.1:7001:1\n"
      "beta:\n  listen: localhost:22121\n  redis: true\n  servers:\n    - 127.0.0.1:7002:1\n");
  EXPECT_EQ(config.pools.size(), 2u);
}

// ---- ringproxy's extensions ---------------------------------------------------------------------

ServerConfig Pod(const std::string& host, uint16_t port, uint32_t weight, const std::string& name) {
  return Server(host, port, weight, name, true);
}

StatefulSetConfig StatefulSet(std::string name, std::string service, uint32_t replicas) {
  StatefulSetConfig statefulset;
  statefulset.name = std::move(name);
  statefulset.service = std::move(service);
  statefulset.replicas = replicas;
  return statefulset;
}

INSTANTIATE_TEST_SUITE_P(
    Extensions, ValidConfig,
    testing::Values(
        ValidCase{"StatefulSetWithDefaultsGivesShortPodNames",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  statefulset:\n"
                  "    service: redis-headless\n"
                  "    replicas: 3\n",
                  [](PoolConfig* p) {
                    p->statefulset = StatefulSet("redis", "redis-headless", 3);
                    p->servers = {Pod("redis-0.redis-headless", 6379, 1, "redis-0"),
                                  Pod("redis-1.redis-headless", 6379, 1, "redis-1"),
                                  Pod("redis-2.redis-headless", 6379, 1, "redis-2")};
                  }},
        ValidCase{"StatefulSetWithEveryKey",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  statefulset:\n"
                  "    weight: 3\n"
                  "    name: cache\n"
                  "    service: cache-svc\n"
                  "    replicas: 2\n"
                  "    port: 7000\n"
                  "    namespace: prod\n"
                  "    cluster_domain: k8s.example\n",
                  [](PoolConfig* p) {
                    p->statefulset = StatefulSet("cache", "cache-svc", 2);
                    p->statefulset.port = 7000;
                    p->statefulset.namespace_name = "prod";
                    p->statefulset.cluster_domain = "k8s.example";
                    p->statefulset.weight = 3;
                    p->servers = {
                        Pod("cache-0.cache-svc.prod.svc.k8s.example", 7000, 3, "cache-0"),
                        Pod("cache-1.cache-svc.prod.svc.k8s.example", 7000, 3, "cache-1")};
                  }},
        ValidCase{"StatefulSetAsAFlowMapping",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  statefulset: {service: redis-headless, replicas: 2, namespace: default}\n",
                  [](PoolConfig* p) {
                    p->statefulset = StatefulSet("redis", "redis-headless", 2);
                    p->statefulset.namespace_name = "default";
                    p->servers = {
                        Pod("redis-0.redis-headless.default.svc.cluster.local", 6379, 1, "redis-0"),
                        Pod("redis-1.redis-headless.default.svc.cluster.local", 6379, 1,
                            "redis-1")};
                  }},
        ValidCase{"SrvPoolStartsWithoutServers",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  srv: _redis._tcp.redis-headless.default.svc.cluster.local\n",
                  [](PoolConfig* p) {
                    p->srv = "_redis._tcp.redis-headless.default.svc.cluster.local";
                    p->servers.clear();
                  }},
        ValidCase{"ServerAuthUserWithRedisAuth",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  server_auth_user: proxy\n"
                  "  redis_auth: s3cret\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) {
                    p->server_auth_user = "proxy";
                    p->redis_auth = "s3cret";
                  }},
        ValidCase{"TlsForClientsAndServers",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  tls:\n"
                  "    cert_file: /etc/ringproxy/tls/tls.crt\n"
                  "    key_file: /etc/ringproxy/tls/tls.key\n"
                  "    ca_file: /etc/ringproxy/tls/ca.crt\n"
                  "    auth_clients: true\n"
                  "  server_tls:\n"
                  "    ca_file: /etc/redis-tls/ca.crt\n"
                  "    cert_file: /etc/redis-tls/client.crt\n"
                  "    key_file: /etc/redis-tls/client.key\n"
                  "    server_name: redis.example\n"
                  "    verify: false\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) {
                    p->tls.cert_file = "/etc/ringproxy/tls/tls.crt";
                    p->tls.key_file = "/etc/ringproxy/tls/tls.key";
                    p->tls.ca_file = "/etc/ringproxy/tls/ca.crt";
                    p->tls.auth_clients = true;
                    p->server_tls.enabled = true;
                    p->server_tls.ca_file = "/etc/redis-tls/ca.crt";
                    p->server_tls.cert_file = "/etc/redis-tls/client.crt";
                    p->server_tls.key_file = "/etc/redis-tls/client.key";
                    p->server_tls.server_name = "redis.example";
                    p->server_tls.verify = false;
                  }},
        ValidCase{"TlsCiphersAndHandshakeTimeout",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  tls:\n"
                  "    cert_file: /etc/ringproxy/tls/tls.crt\n"
                  "    key_file: /etc/ringproxy/tls/tls.key\n"
                  "    ciphers: ECDHE-RSA-AES128-GCM-SHA256\n"
                  "    handshake_timeout: 1500\n"
                  "  server_tls: {ciphers: \"ECDHE+AESGCM:!AES128\"}\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) {
                    p->tls.cert_file = "/etc/ringproxy/tls/tls.crt";
                    p->tls.key_file = "/etc/ringproxy/tls/tls.key";
                    p->tls.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
                    p->tls.handshake_timeout_ms = 1500;
                    p->server_tls.enabled = true;
                    p->server_tls.ciphers = "ECDHE+AESGCM:!AES128";
                  }},
        ValidCase{"ServerPasswordApartFromTheClients",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  redis_auth: for-clients\n"
                  "  server_auth: for-servers\n"
                  "  server_auth_user: proxy\n"
                  "  refuse_scripts: true\n"
                  "  allow_flush: true\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) {
                    p->redis_auth = "for-clients";
                    p->server_auth = "for-servers";
                    p->server_auth_user = "proxy";
                    p->refuse_scripts = true;
                    p->allow_flush = true;
                  }},
        ValidCase{"ServerPasswordWithoutAClientPassword",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  server_auth: for-servers\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) { p->server_auth = "for-servers"; }},
        ValidCase{"ServerTlsWithItsDefaults",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  server_tls: {}\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) { p->server_tls.enabled = true; }},
        ValidCase{"ClientLimits",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  max_clients: 10000\n"
                  "  client_idle_timeout: 300000\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) {
                    p->max_clients = 10000;
                    p->client_idle_timeout_ms = 300000;
                  }},
        // client_connections stays nutcracker's: kept as written, enforcing nothing.
        ValidCase{"ClientConnectionsIsNotMaxClients",
                  "alpha:\n"
                  "  listen: 127.0.0.1:22121\n"
                  "  redis: true\n"
                  "  client_connections: 5\n"
                  "  servers:\n"
                  "    - 127.0.0.1:7001:1\n",
                  [](PoolConfig* p) { p->client_connections = 5; }}),
    TitleOf<ValidCase>);

// The shorthand is only a way of writing the servers: the pool is the one a nutcracker.yml naming
// the same pods would give, in the same (nutcracker's) order, so keys land on the same pods.
TEST(ConfigLoaderExtensions, StatefulSetPlacementEqualsNutcrackerServersNamedAfterThePods) {
  std::string explicit_text = "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n";
  for (int i = 11; i >= 0; --i) {  // written backwards: the order must come from sorting
    const std::string pod = "redis-" + std::to_string(i);
    explicit_text += "    - ";
    explicit_text += pod;
    explicit_text += ".redis-headless.default.svc.cluster.local:6379:1 ";
    explicit_text += pod;
    explicit_text += "\n";
  }
  const Config from_servers = LoadOk(explicit_text);
  const Config from_statefulset = LoadOk(
      "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  statefulset:\n"
      "    service: redis-headless\n    replicas: 12\n    namespace: default\n");
  ASSERT_EQ(from_servers.pools.size(), 1u);
  ASSERT_EQ(from_statefulset.pools.size(), 1u);
  const PoolConfig expected = WithoutPositions(from_servers.pools[0]);
  const PoolConfig actual = WithoutPositions(from_statefulset.pools[0]);
  EXPECT_EQ(actual.servers, expected.servers);
  // nutcracker's order: shorter names first, so redis-10 and redis-11 come after redis-9.
  std::vector<std::string> names;
  for (const ServerConfig& server : actual.servers) {
    names.push_back(server.name);
  }
  const std::vector<std::string> expected_names = {"redis-0", "redis-1", "redis-2",  "redis-3",
                                                   "redis-4", "redis-5", "redis-6",  "redis-7",
                                                   "redis-8", "redis-9", "redis-10", "redis-11"};
  EXPECT_EQ(names, expected_names);
  // Every expanded server points back at the shorthand.
  for (const ServerConfig& server : from_statefulset.pools[0].servers) {
    EXPECT_EQ(server.where, (SourceLocation{5, 5})) << server.name;
  }
}

TEST(ConfigLoaderExtensions, RedisAuthEnvFillsRedisAuth) {
  ASSERT_EQ(setenv("RINGPROXY_TEST_LOADER_PASSWORD", "from-env\n", 1), 0);
  const Config config = LoadOk(
      "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
      "  redis_auth_env: RINGPROXY_TEST_LOADER_PASSWORD\n  servers:\n    - 127.0.0.1:7001:1\n");
  unsetenv("RINGPROXY_TEST_LOADER_PASSWORD");
  ASSERT_EQ(config.pools.size(), 1u);
  EXPECT_EQ(config.pools[0].redis_auth, "from-env");
  EXPECT_EQ(config.pools[0].redis_auth_env, "RINGPROXY_TEST_LOADER_PASSWORD");
  EXPECT_EQ(config.pools[0].redis_auth_file, "");
}

TEST(ConfigLoaderExtensions, RedisAuthEnvThatIsEmptyIsAnError) {
  ASSERT_EQ(setenv("RINGPROXY_TEST_LOADER_EMPTY", "", 1), 0);
  EXPECT_EQ(LoadError("alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                      "  redis_auth_env: RINGPROXY_TEST_LOADER_EMPTY\n"
                      "  servers:\n    - 127.0.0.1:7001:1\n"),
            "t.yml:4:19: redis_auth_env \"RINGPROXY_TEST_LOADER_EMPTY\" names an environment "
            "variable that is empty");
  unsetenv("RINGPROXY_TEST_LOADER_EMPTY");
}

// A pool with the given lines after listen and redis: line 4 is the first of them.
#define POOL_AFTER_REDIS(lines) \
  "alpha:\n"                    \
  "  listen: 127.0.0.1:22121\n" \
  "  redis: true\n" lines

INSTANTIATE_TEST_SUITE_P(
    Extensions, InvalidConfig,
    testing::Values(
        InvalidCase{"StatefulSetAfterServers",
                    POOL_AFTER_REDIS("  servers:\n    - 127.0.0.1:7001:1\n"
                                     "  statefulset:\n    service: redis\n    replicas: 1\n"),
                    "t.yml:6:3: directive \"statefulset\" cannot be combined with \"servers\" "
                    "(given at 4:3): a pool takes its servers from one of servers, statefulset "
                    "or srv"},
        InvalidCase{"ServersAfterSrv",
                    POOL_AFTER_REDIS("  srv: _redis._tcp.redis\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:3: directive \"servers\" cannot be combined with \"srv\" (given at "
                    "4:3): a pool takes its servers from one of servers, statefulset or srv"},
        InvalidCase{"SrvAfterStatefulSet",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "  srv: _redis._tcp.redis\n"),
                    "t.yml:7:3: directive \"srv\" cannot be combined with \"statefulset\" (given "
                    "at 4:3): a pool takes its servers from one of servers, statefulset or srv"},
        InvalidCase{"StatefulSetUnknownKey",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replica: 3\n"),
                    "t.yml:6:5: statefulset key \"replica\" is unknown; known keys: name, "
                    "service, replicas, port, namespace, cluster_domain, weight"},
        InvalidCase{"StatefulSetDuplicateKey",
                    POOL_AFTER_REDIS("  statefulset:\n    service: a\n    replicas: 3\n"
                                     "    service: b\n"),
                    "t.yml:7:5: statefulset key \"service\" is a duplicate (first given at 5:5)"},
        InvalidCase{"StatefulSetWithoutService",
                    POOL_AFTER_REDIS("  statefulset:\n    replicas: 3\n"),
                    "t.yml:4:3: statefulset has no \"service\" key (required)"},
        InvalidCase{"StatefulSetWithoutReplicas",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis-headless\n"),
                    "t.yml:4:3: statefulset has no \"replicas\" key (required)"},
        InvalidCase{"StatefulSetZeroReplicas",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 0\n"),
                    "t.yml:6:15: statefulset replicas \"0\" is out of range: 1-1024 expected"},
        InvalidCase{"StatefulSetTooManyReplicas",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1025\n"),
                    "t.yml:6:15: statefulset replicas \"1025\" is out of range: 1-1024 "
                    "expected"},
        InvalidCase{"StatefulSetReplicasInWords",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: three\n"),
                    "t.yml:6:15: statefulset replicas \"three\" is not a number: only the digits "
                    "0-9 are accepted (no sign, no blanks)"},
        InvalidCase{"StatefulSetPortZero",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    port: 0\n"),
                    "t.yml:7:11: statefulset port \"0\" is out of range: 1-65535 expected"},
        InvalidCase{"StatefulSetPortTooLarge",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    port: 65536\n"),
                    "t.yml:7:11: statefulset port \"65536\" is out of range: 1-65535 expected"},
        InvalidCase{"StatefulSetWeightZero",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    weight: 0\n"),
                    "t.yml:7:13: statefulset weight \"0\" is out of range: 1-2147483647 "
                    "expected"},
        InvalidCase{"StatefulSetServiceNotAKubernetesName",
                    POOL_AFTER_REDIS("  statefulset:\n    service: Redis_Headless\n"
                                     "    replicas: 1\n"),
                    "t.yml:5:14: statefulset service \"Redis_Headless\" is not a Kubernetes "
                    "name: 1-63 lowercase letters, digits and '-', beginning and ending with a "
                    "letter or digit"},
        InvalidCase{"StatefulSetNamespaceNotAKubernetesName",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    namespace: prod.eu\n"),
                    "t.yml:7:16: statefulset namespace \"prod.eu\" is not a Kubernetes name: "
                    "1-63 lowercase letters, digits and '-', beginning and ending with a letter "
                    "or digit"},
        InvalidCase{"StatefulSetClusterDomainNotADnsName",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    namespace: prod\n    cluster_domain: cluster..local\n"),
                    "t.yml:8:21: statefulset cluster_domain \"cluster..local\" is not a DNS "
                    "name: it has an empty label (a dot at the start, or two in a row)"},
        InvalidCase{"StatefulSetClusterDomainWithoutNamespace",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    cluster_domain: cluster.local\n"),
                    "t.yml:4:3: statefulset has a cluster_domain but no namespace: the domain is "
                    "only used in full names (<pod>.<service>.<namespace>.svc.<cluster_domain>); "
                    "give the namespace too"},
        InvalidCase{
            "StatefulSetPodNameTooLong",
            POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 10\n"
                             "    name: "
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "\n"),
            "t.yml:4:3: statefulset pod name "
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-9\" is longer "
            "than 63 characters: a pod name is one DNS label; choose a shorter name"},
        InvalidCase{"StatefulSetIsAScalar", POOL_AFTER_REDIS("  statefulset: redis-headless\n"),
                    "t.yml:4:16: directive \"statefulset\" must be a mapping, one \"key: value\" "
                    "per line (keys: name, service, replicas, port, namespace, cluster_domain, "
                    "weight)"},
        InvalidCase{"StatefulSetIsEmpty", POOL_AFTER_REDIS("  statefulset:\n"),
                    "t.yml:4:3: directive \"statefulset\" must be a mapping, one \"key: value\" "
                    "per line (keys: name, service, replicas, port, namespace, cluster_domain, "
                    "weight)"},
        InvalidCase{"StatefulSetIsAList", POOL_AFTER_REDIS("  statefulset:\n    - redis\n"),
                    "t.yml:5:5: directive \"statefulset\" must be a mapping, one \"key: value\" "
                    "per line (keys: name, service, replicas, port, namespace, cluster_domain, "
                    "weight)"},
        InvalidCase{"StatefulSetValueIsAList",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas:\n"
                                     "      - 3\n"),
                    "t.yml:7:7: statefulset key \"replicas\" must be a single value, not a list"},
        InvalidCase{"StatefulSetEmptyValue",
                    POOL_AFTER_REDIS("  statefulset:\n    service: redis\n    replicas: 1\n"
                                     "    name:\n"),
                    "t.yml:7:5: statefulset key \"name\" has no value"},
        InvalidCase{"FlowMappingInsideStatefulSet",
                    POOL_AFTER_REDIS("  statefulset: {service: {name: redis}, replicas: 1}\n"),
                    "t.yml:4:26: flow mappings (\"{...}\") are not accepted: nutcracker refuses "
                    "them; write one \"key: value\" per line"},
        InvalidCase{"FlowListInsideStatefulSet",
                    POOL_AFTER_REDIS("  statefulset: {service: redis, replicas: [1]}\n"),
                    "t.yml:4:43: flow lists (\"[...]\") are not accepted: nutcracker refuses "
                    "them; write one \"- item\" per line"},
        InvalidCase{"FlowMappingForANutcrackerDirective",
                    POOL_AFTER_REDIS("  hash: {name: md5}\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:9: flow mappings (\"{...}\") are not accepted: nutcracker refuses "
                    "them; write one \"key: value\" per line"},
        InvalidCase{"SrvWithAnEmptyLabel", POOL_AFTER_REDIS("  srv: _redis._tcp..default.svc\n"),
                    "t.yml:4:8: srv \"_redis._tcp..default.svc\" is not a DNS name: it has an "
                    "empty label (a dot at the start, or two in a row)"},
        InvalidCase{"SrvWithAPort", POOL_AFTER_REDIS("  srv: redis-headless:6379\n"),
                    "t.yml:4:8: srv \"redis-headless:6379\" is not a DNS name: label "
                    "\"redis-headless:6379\" holds a character other than letters, digits, '-' "
                    "and '_'"},
        InvalidCase{"RedisAuthTwice",
                    POOL_AFTER_REDIS("  redis_auth: a\n  redis_auth_env: HOME\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:3: directive \"redis_auth_env\" cannot be combined with "
                    "\"redis_auth\" (given at 4:3): a pool takes its password from one of "
                    "redis_auth, redis_auth_file or redis_auth_env"},
        InvalidCase{"RedisAuthFileAndEnv",
                    POOL_AFTER_REDIS("  redis_auth_env: HOME\n"
                                     "  redis_auth_file: /nonexistent/ringproxy-test-pw\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:3: directive \"redis_auth_file\" cannot be combined with "
                    "\"redis_auth_env\" (given at 4:3): a pool takes its password from one of "
                    "redis_auth, redis_auth_file or redis_auth_env"},
        InvalidCase{"RedisAuthFileMissing",
                    POOL_AFTER_REDIS("  redis_auth_file: /nonexistent/ringproxy-test-pw\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:20: redis_auth_file \"/nonexistent/ringproxy-test-pw\" cannot be "
                    "opened (/nonexistent/ringproxy-test-pw): No such file or directory"},
        InvalidCase{"RedisAuthEnvUnset",
                    POOL_AFTER_REDIS("  redis_auth_env: RINGPROXY_TEST_NEVER_SET_8d1f\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:19: redis_auth_env \"RINGPROXY_TEST_NEVER_SET_8d1f\" names an "
                    "environment variable that is not set"},
        InvalidCase{"RedisAuthEnvNotAVariableName",
                    POOL_AFTER_REDIS("  redis_auth_env: $PASSWORD\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:19: redis_auth_env \"$PASSWORD\" is not an environment variable "
                    "name: letters, digits and '_', not beginning with a digit"},
        InvalidCase{"ServerAuthUserWithoutPassword",
                    POOL_AFTER_REDIS("  server_auth_user: proxy\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:21: server_auth_user \"proxy\" needs a password to send with it: "
                    "give one of server_auth, server_auth_file or server_auth_env (or the "
                    "clients' redis_auth, redis_auth_file or redis_auth_env)"},
        InvalidCase{"ServerAuthTwice",
                    POOL_AFTER_REDIS("  server_auth: a\n  server_auth_env: HOME\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:3: directive \"server_auth_env\" cannot be combined with "
                    "\"server_auth\" (given at 4:3): a pool takes its servers' password from one "
                    "of server_auth, server_auth_file or server_auth_env"},
        InvalidCase{"ServerAuthFileMissing",
                    POOL_AFTER_REDIS("  server_auth_file: /nonexistent/ringproxy-test-pw\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:21: server_auth_file \"/nonexistent/ringproxy-test-pw\" cannot be "
                    "opened (/nonexistent/ringproxy-test-pw): No such file or directory"},
        InvalidCase{"RefuseScriptsYes",
                    POOL_AFTER_REDIS("  refuse_scripts: yes\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:19: refuse_scripts \"yes\" is not \"true\" or \"false\" (nutcracker "
                    "accepts only these two)"},
        InvalidCase{"TlsHandshakeTimeoutZero",
                    POOL_AFTER_REDIS("  tls: {cert_file: /x.crt, key_file: /x.key, "
                                     "handshake_timeout: 0}\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:65: tls handshake_timeout \"0\" is out of range: 1-2147483647 "
                    "expected"},
        InvalidCase{"TlsCiphersWithABlank",
                    POOL_AFTER_REDIS("  tls:\n    cert_file: /x.crt\n    key_file: /x.key\n"
                                     "    ciphers: \"ECDHE+AESGCM ECDHE+CHACHA20\"\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:7:14: tls ciphers \"ECDHE+AESGCM ECDHE+CHACHA20\" holds a blank or a "
                    "control character; separate ciphers with ':'"},
        InvalidCase{"NegativeMaxClients",
                    POOL_AFTER_REDIS("  max_clients: -1\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:16: max_clients \"-1\" is not a number: only the digits 0-9 are "
                    "accepted (no sign, no blanks)"},
        InvalidCase{"MaxClientsInWords",
                    POOL_AFTER_REDIS("  max_clients: many\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:16: max_clients \"many\" is not a number: only the digits 0-9 are "
                    "accepted (no sign, no blanks)"},
        InvalidCase{"HugeMaxClients",
                    POOL_AFTER_REDIS("  max_clients: 99999999999\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:16: max_clients \"99999999999\" is too large: the largest accepted "
                    "number is 2147483647"},
        InvalidCase{"EmptyMaxClients",
                    POOL_AFTER_REDIS("  max_clients:\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:3: directive \"max_clients\" has no value"},
        InvalidCase{"NegativeClientIdleTimeout",
                    POOL_AFTER_REDIS("  client_idle_timeout: -5000\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:24: client_idle_timeout \"-5000\" is not a number: only the digits "
                    "0-9 are accepted (no sign, no blanks)"},
        InvalidCase{"ClientIdleTimeoutWithUnit",
                    POOL_AFTER_REDIS("  client_idle_timeout: 30s\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:24: client_idle_timeout \"30s\" is not a number: only the digits "
                    "0-9 are accepted (no sign, no blanks)"},
        InvalidCase{"ServerAuthUserWithABlank",
                    POOL_AFTER_REDIS("  redis_auth: pw\n  server_auth_user: \"two words\"\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:21: server_auth_user \"two words\" holds a blank or a control "
                    "character, which no Redis ACL user name has"},
        InvalidCase{"TlsWithoutKey",
                    POOL_AFTER_REDIS("  tls:\n    cert_file: /x.crt\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:3: tls has no \"key_file\" key (required)"},
        InvalidCase{"TlsAuthClientsWithoutCa",
                    POOL_AFTER_REDIS("  tls: {cert_file: /x.crt, key_file: /x.key, auth_clients: "
                                     "true}\n  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:3: tls has auth_clients: true but no ca_file to verify client "
                    "certificates with"},
        InvalidCase{"ServerTlsCertWithoutKey",
                    POOL_AFTER_REDIS("  server_tls:\n    cert_file: /client.crt\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:4:3: server_tls needs both cert_file and key_file for a client "
                    "certificate, or neither"},
        InvalidCase{"ServerTlsVerifyYes",
                    POOL_AFTER_REDIS("  server_tls:\n    verify: yes\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:13: server_tls verify \"yes\" is not \"true\" or \"false\""},
        InvalidCase{"ServerTlsNameNotADnsName",
                    POOL_AFTER_REDIS("  server_tls:\n    server_name: \"redis 0\"\n"
                                     "  servers:\n    - 127.0.0.1:7001:1\n"),
                    "t.yml:5:18: server_tls server_name \"redis 0\" is not a DNS name: label "
                    "\"redis 0\" holds a character other than letters, digits, '-' and '_'"}),
    TitleOf<InvalidCase>);

#undef POOL_AFTER_REDIS

// ---- files --------------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "config-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(ConfigLoaderFile, LoadsAFileAndNamesItInTheConfig) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = (dir.path() / "ringproxy.yml").string();
  std::ofstream(path) << kMinimal;
  const LoadResult result = LoadConfigFile(path);
  ASSERT_TRUE(result.ok()) << result.error.ToString();
  EXPECT_EQ(result.config->path, path);
  ASSERT_EQ(result.config->pools.size(), 1u);
  EXPECT_EQ(WithoutPositions(result.config->pools[0]), MinimalPool());
}

TEST(ConfigLoaderFile, NamesTheFileInErrors) {
  TempDir dir;
  const std::string path = (dir.path() / "ringproxy.yml").string();
  std::ofstream(path) << "alpha:\n  listen: 127.0.0.1:22121\n  hash: fnv1a64\n";
  const LoadResult result = LoadConfigFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error.file, path);
  EXPECT_EQ(result.error.where, (SourceLocation{3, 9}));
  EXPECT_TRUE(result.error.ToString().starts_with(path + ":3:9: hash \"fnv1a64\" is not one of"))
      << result.error.ToString();
}

TEST(ConfigLoaderFile, ReportsAMissingFile) {
  TempDir dir;
  const std::string path = (dir.path() / "absent.yml").string();
  const LoadResult result = LoadConfigFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error.ToString(),
            path + ": cannot open the configuration file: No such file or directory");
}

TEST(ConfigLoaderFile, ReportsADirectory) {
  TempDir dir;
  const LoadResult result = LoadConfigFile(dir.path().string());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error.ToString(),
            dir.path().string() + ": cannot read the configuration file: Is a directory");
}

TEST(ConfigError, OmitsAnUnknownPosition) {
  EXPECT_EQ((ConfigError{.file = "a.yml", .where = {}, .message = "m"}).ToString(), "a.yml: m");
  EXPECT_EQ((ConfigError{.file = "a.yml", .where = {7, 3}, .message = "m"}).ToString(),
            "a.yml:7:3: m");
}

TEST(ConfigLoaderFile, ReadsRedisAuthFileRelativeToTheConfigFilesDirectory) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::filesystem::create_directory(dir.path() / "secrets");
  std::ofstream(dir.path() / "secrets" / "redis-password") << "s3cret\r\n";
  const std::string path = (dir.path() / "ringproxy.yml").string();
  std::ofstream(path) << "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                         "  redis_auth_file: secrets/redis-password\n"
                         "  servers:\n    - 127.0.0.1:7001:1\n";
  const LoadResult result = LoadConfigFile(path);
  ASSERT_TRUE(result.ok()) << result.error.ToString();
  const PoolConfig& pool = result.config->pools[0];
  EXPECT_EQ(pool.redis_auth, "s3cret");
  EXPECT_EQ(pool.redis_auth_file, (dir.path() / "secrets" / "redis-password").string());
  EXPECT_EQ(pool.redis_auth_env, "");
}

TEST(ConfigLoaderFile, ReadsServerAuthFileApartFromTheClientsPassword) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::ofstream(dir.path() / "client-password") << "for-clients\n";
  std::ofstream(dir.path() / "server-password") << "for-servers\n";
  const std::string path = (dir.path() / "ringproxy.yml").string();
  std::ofstream(path) << "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                         "  redis_auth_file: client-password\n"
                         "  server_auth_file: server-password\n"
                         "  server_auth_user: proxy\n"
                         "  servers:\n    - 127.0.0.1:7001:1\n";
  const LoadResult result = LoadConfigFile(path);
  ASSERT_TRUE(result.ok()) << result.error.ToString();
  const PoolConfig& pool = result.config->pools[0];
  EXPECT_EQ(pool.redis_auth, "for-clients");
  EXPECT_EQ(pool.server_auth, "for-servers");
  EXPECT_EQ(pool.server_password(), "for-servers");
  EXPECT_EQ(pool.server_auth_file, (dir.path() / "server-password").string());
}

TEST(PoolConfig, ServersGetTheClientsPasswordUnlessTheirOwnIsGiven) {
  PoolConfig pool;
  EXPECT_EQ(pool.server_password(), "");
  pool.redis_auth = "shared";
  EXPECT_EQ(pool.server_password(), "shared");
  pool.server_auth = "own";
  EXPECT_EQ(pool.server_password(), "own");
}

TEST(ConfigLoaderFile, ReadsRedisAuthFileByAbsolutePath) {
  TempDir dir;
  const std::string password = (dir.path() / "pw").string();
  std::ofstream(password) << "s3cret\n";
  const Config config = LoadOk(
      "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
      "  redis_auth_file: " +
      password + "\n  servers:\n    - 127.0.0.1:7001:1\n");
  ASSERT_EQ(config.pools.size(), 1u);
  EXPECT_EQ(config.pools[0].redis_auth, "s3cret");
  EXPECT_EQ(config.pools[0].redis_auth_file, password);
}

TEST(ConfigLoaderFile, NamesTheResolvedPathOfAMissingOrEmptyPasswordFile) {
  TempDir dir;
  const std::string path = (dir.path() / "ringproxy.yml").string();
  const std::string text =
      "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  redis_auth_file: pw\n"
      "  servers:\n    - 127.0.0.1:7001:1\n";
  std::ofstream(path) << text;
  const std::string password = (dir.path() / "pw").string();
  LoadResult result = LoadConfigFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error.ToString(), path + ":4:20: redis_auth_file \"pw\" cannot be opened (" +
                                         password + "): No such file or directory");

  std::ofstream(password) << "\n";
  result = LoadConfigFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error.ToString(), path + ":4:20: redis_auth_file \"pw\" holds no password (" +
                                         password + "): the file is empty");
}

// ---- shipped examples ---------------------------------------------------------------------------

TEST(ConfigExamples, EveryExampleLoads) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(RINGPROXY_CONFIG_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".yml") {
      continue;
    }
    const LoadResult result = LoadConfigFile(entry.path().string());
    EXPECT_TRUE(result.ok()) << result.error.ToString();
    if (result.ok()) {
      EXPECT_FALSE(result.config->pools.empty()) << entry.path();
    }
    ++loaded;
  }
  EXPECT_GE(loaded, 4);
}

TEST(ConfigExamples, DemoIsTheReadmesThreeShardPool) {
  const LoadResult result =
      LoadConfigFile(std::string(RINGPROXY_CONFIG_EXAMPLES_DIR) + "/demo.yml");
  ASSERT_TRUE(result.ok()) << result.error.ToString();
  ASSERT_EQ(result.config->pools.size(), 1u);
  const PoolConfig& pool = result.config->pools[0];
  EXPECT_EQ(pool.name, "demo");
  EXPECT_EQ(pool.listen.host, "127.0.0.1");
  EXPECT_EQ(pool.listen.port, 22121);
  EXPECT_TRUE(pool.redis);
  EXPECT_EQ(pool.hash, hashing::HashKind::kFnv1a_64);
  EXPECT_EQ(pool.distribution, hashing::Distribution::kKetama);
  EXPECT_EQ(pool.hash_tag, "{}");
  EXPECT_EQ(pool.timeout_ms, 400);
  EXPECT_FALSE(pool.preconnect);
  EXPECT_FALSE(pool.auto_eject_hosts);
  ASSERT_EQ(pool.servers.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pool.servers[i].name, "shard-" + std::to_string(i));
    EXPECT_EQ(pool.servers[i].host, "127.0.0.1");
    EXPECT_EQ(pool.servers[i].port, 7001 + i);
    EXPECT_EQ(pool.servers[i].weight, 1u);
  }
}

TEST(ConfigExamples, StatefulSetShorthandIsTheLongFormsPool) {
  const std::string dir = RINGPROXY_CONFIG_EXAMPLES_DIR;
  const LoadResult long_form = LoadConfigFile(dir + "/kubernetes-statefulset.yml");
  const LoadResult shorthand = LoadConfigFile(dir + "/kubernetes-statefulset-shorthand.yml");
  ASSERT_TRUE(long_form.ok()) << long_form.error.ToString();
  ASSERT_TRUE(shorthand.ok()) << shorthand.error.ToString();
  ASSERT_EQ(long_form.config->pools.size(), 1u);
  ASSERT_EQ(shorthand.config->pools.size(), 2u);
  PoolConfig expected = WithoutPositions(long_form.config->pools[0]);
  PoolConfig actual = WithoutPositions(shorthand.config->pools[0]);
  EXPECT_TRUE(actual.statefulset.used());
  actual.statefulset = {};
  EXPECT_EQ(actual, expected);

  const PoolConfig& discovered = shorthand.config->pools[1];
  EXPECT_EQ(discovered.srv, "_redis._tcp.sessions-headless.default.svc.cluster.local");
  EXPECT_TRUE(discovered.servers.empty());
}

}  // namespace
}  // namespace ringproxy::config
