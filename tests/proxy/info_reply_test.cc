// INFO through the proxy: the sections asked for and no others, with the fields that client
// ready checks and redis-cli --stat read.
#include "dataplane/info_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringproxy::proxy {
namespace {

InfoSections Parse(std::vector<std::string_view> args) {
  args.insert(args.begin(), "INFO");
  return InfoSections::Parse(args);
}

std::string Text(const InfoSections& sections) {
  static const config::PoolConfig pool = [] {
    config::PoolConfig p;
    p.name = "shards";
    p.listen.port = 22121;
    return p;
  }();
  InfoFigures figures;
  figures.pool = &pool;
  figures.workers = 2;
  figures.connected_clients = 3;
  figures.total_commands = 42;
  figures.rss_bytes = 5u << 20;
  return InfoText(sections, figures);
}

TEST(InfoReply, NoArgumentMeansEverySection) {
  const InfoSections all = Parse({});
  EXPECT_TRUE(all.server && all.clients && all.memory && all.persistence && all.stats &&
              all.replication && all.cpu && all.proxy && all.keyspace);
  EXPECT_TRUE(Parse({"EVERYTHING"}).keyspace);
  EXPECT_TRUE(Parse({"default"}).server);
}

TEST(InfoReply, AnswersTheSectionsAskedForInAnyCase) {
  const InfoSections sections = Parse({"SERVER", "clients"});
  EXPECT_TRUE(sections.server && sections.clients);
  EXPECT_FALSE(sections.memory || sections.keyspace || sections.proxy);
  const std::string text = Text(sections);
  EXPECT_EQ(text.find("# Server\r\n"), 0u);
  EXPECT_NE(text.find("\r\n\r\n# Clients\r\nconnected_clients:3\r\n"), std::string::npos);
  EXPECT_EQ(text.find("# Memory"), std::string::npos);
  EXPECT_TRUE(Text(Parse({"nosuchsection"})).empty());
}

TEST(InfoReply, HasTheFieldsReadyChecksAndRedisCliStatRead) {
  const std::string text = Text(Parse({}));
  for (const char* field :
       {"redis_version:7.", "loading:0\r\n", "role:master\r\n", "connected_clients:3\r\n",
        "blocked_clients:0\r\n", "used_memory:5242880\r\n", "total_commands_processed:42\r\n",
        "total_connections_received:", "rdb_bgsave_in_progress:0\r\n",
        "aof_rewrite_in_progress:0\r\n", "# Proxy\r\nringproxy_version:", "ringproxy_workers:2"}) {
    EXPECT_NE(text.find(field), std::string::npos) << field;
  }
}

TEST(InfoReply, KeyspacesAreSummedPerDatabase) {
  const std::vector<std::string> replies = {
      "$40\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=300\r\n\r\n",
      "$1\r\n\r\n\r\n",  // a server with no key has an empty keyspace
      "$70\r\n# "
      "Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\ndb3:keys=7,expires=0,avg_ttl=0\r\n\r\n"};
  EXPECT_EQ(MergedKeyspace(replies),
            "# Keyspace\r\ndb0:keys=3,expires=2,avg_ttl=200\r\ndb3:keys=7,expires=0,avg_ttl=0\r\n");
  EXPECT_EQ(MergedKeyspace({}), "# Keyspace\r\n");
}

TEST(InfoReply, AKeyspaceLineThatIsNotRedisDecimalsAddsNothing) {
  // Only Redis's own spelling of a database number and of a count is read: a line naming no
  // database is not counted as db0, and a field that is not a count adds nothing.
  const std::vector<std::string> replies = {
      "$0\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=10\r\n"
      "dbx:keys=5,expires=5,avg_ttl=5\r\ndb01:keys=5\r\ndb-1:keys=5\r\ndb:keys=5\r\n"
      "db1:keys=+4,expires=-3,avg_ttl=07\r\ndb0:keys=1,expires= 1,avg_ttl=10\r\n\r\n"};
  EXPECT_EQ(MergedKeyspace(replies),
            "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=10\r\ndb1:keys=0,expires=0,avg_ttl=0\r\n");
}

}  // namespace
}  // namespace ringproxy::proxy
