// Request: merging split replies — key order restored, sums, all-OK, and one failed fragment
// failing the whole command.
#include "dataplane/request.h"

#include <gtest/gtest.h>

namespace ringproxy::proxy {
namespace {

TEST(Request, ForwardedReplyIsKeptByteForByte) {
  Request request;
  request.pending = 1;
  EXPECT_TRUE(request.OnFragmentReply(0, "$3\r\nabc\r\n"));
  EXPECT_TRUE(request.done);
  EXPECT_EQ(request.ReplyBytes(), "$3\r\nabc\r\n");
}

TEST(Request, ResetAfterASplitLeavesAFreshRequest) {
  Request request;
  request.BeginSplit(MergeKind::kSum, 2);
  EXPECT_FALSE(request.OnFragmentReply(0, ":3\r\n"));
  EXPECT_TRUE(request.OnFragmentReply(1, "-ERR x\r\n"));
  request.Reset();
  EXPECT_EQ(request.merge, MergeKind::kForward);
  EXPECT_TRUE(request.error.empty());
  EXPECT_EQ(request.sum, 0);
  EXPECT_TRUE(request.reply.empty());
  EXPECT_FALSE(request.done);
  // Reused as a forwarded request, then as an MGET: no trace of the earlier uses.
  request.pending = 1;
  EXPECT_TRUE(request.OnFragmentReply(0, ":1\r\n"));
  EXPECT_EQ(request.ReplyBytes(), ":1\r\n");
  request.Reset();
  request.BeginSplit(MergeKind::kArray, 1);
  request.key_fragment = {0};
  EXPECT_TRUE(request.OnFragmentReply(0, "*1\r\n$1\r\nv\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "*1\r\n$1\r\nv\r\n");
  request.Reset();
  EXPECT_TRUE(request.fragment_replies.empty());
  EXPECT_TRUE(request.key_fragment.empty());
}

TEST(Request, MgetMergeRestoresKeyOrder) {
  // Keys k0 k1 k2 k3: k0, k2 on fragment 0; k1, k3 on fragment 1.
  Request request;
  request.BeginSplit(MergeKind::kArray, 2);
  request.key_fragment = {0, 1, 0, 1};
  EXPECT_FALSE(request.OnFragmentReply(1, "*2\r\n$2\r\nv1\r\n$-1\r\n"));
  EXPECT_TRUE(request.OnFragmentReply(0, "*2\r\n$2\r\nv0\r\n$2\r\nv2\r\n"));
  EXPECT_EQ(request.reply.view(), "*4\r\n$2\r\nv0\r\n$2\r\nv1\r\n$2\r\nv2\r\n$-1\r\n");
}

TEST(Request, MgetWithAFailedFragmentFailsWhole) {
  Request request;
  request.BeginSplit(MergeKind::kArray, 2);
  request.key_fragment = {0, 1};
  request.OnFragmentReply(0, "*1\r\n$2\r\nv0\r\n");
  EXPECT_TRUE(request.OnFragmentReply(1, "-ERR Connection refused\r\n"));
  EXPECT_EQ(request.reply.view(), "-ERR Connection refused\r\n");
}

TEST(Request, Resp3MgetMergeKeepsTheServersNulls) {
  Request request;
  request.BeginSplit(MergeKind::kArray, 2);
  request.key_fragment = {1, 0, 1};
  EXPECT_FALSE(request.OnFragmentReply(0, "*1\r\n_\r\n"));
  EXPECT_TRUE(request.OnFragmentReply(1, "*2\r\n$2\r\nv0\r\n_\r\n"));
  EXPECT_EQ(request.reply.view(), "*3\r\n$2\r\nv0\r\n_\r\n_\r\n");
}

TEST(Request, ABlobErrorFailsAMergeWithItsOwnText) {
  Request request;
  request.BeginSplit(MergeKind::kSum, 2);
  request.OnFragmentReply(0, ":2\r\n");
  EXPECT_TRUE(request.OnFragmentReply(1, "!22\r\nSYNTAX invalid\r\nsyntax\r\n"));
  EXPECT_EQ(request.reply.view(), "-SYNTAX invalid  syntax\r\n");
}

TEST(Request, MgetWithTooFewValuesIsAnError) {
  Request request;
  request.BeginSplit(MergeKind::kArray, 2);
  request.key_fragment = {0, 1, 1};
  request.OnFragmentReply(0, "*1\r\n$2\r\nv0\r\n");
  EXPECT_TRUE(request.OnFragmentReply(1, "*1\r\n$2\r\nv1\r\n"));
  EXPECT_EQ(request.reply.view()[0], '-');
}

TEST(Request, CountsAreSummed) {
  Request request;
  request.BeginSplit(MergeKind::kSum, 3);
  request.OnFragmentReply(0, ":2\r\n");
  request.OnFragmentReply(2, ":0\r\n");
  EXPECT_TRUE(request.OnFragmentReply(1, ":5\r\n"));
  EXPECT_EQ(request.reply.view(), ":7\r\n");
}

TEST(Request, CountWithAnErrorFragmentIsThatError) {
  Request request;
  request.BeginSplit(MergeKind::kSum, 2);
  request.OnFragmentReply(0, "-ERR Connection timed out\r\n");
  EXPECT_TRUE(request.OnFragmentReply(1, ":1\r\n"));
  EXPECT_EQ(request.reply.view(), "-ERR Connection timed out\r\n");
}

TEST(Request, MsetIsOkOnlyWhenEveryFragmentIs) {
  Request ok;
  ok.BeginSplit(MergeKind::kAllOk, 2);
  ok.OnFragmentReply(0, "+OK\r\n");
  EXPECT_TRUE(ok.OnFragmentReply(1, "+OK\r\n"));
  EXPECT_EQ(ok.reply.view(), "+OK\r\n");

  Request failed;
  failed.BeginSplit(MergeKind::kAllOk, 2);
  failed.OnFragmentReply(0, "-OOM command not allowed\r\n");
  EXPECT_TRUE(failed.OnFragmentReply(1, "+OK\r\n"));
  EXPECT_EQ(failed.reply.view(), "-OOM command not allowed\r\n");
}

TEST(Request, SameReplyMergeIsTheCommonReplyOrAnError) {
  // SCRIPT LOAD through every server: each returns the SHA.
  Request loaded;
  loaded.BeginSplit(MergeKind::kSameReply, 3);
  EXPECT_FALSE(loaded.OnFragmentReply(0, "$3\r\nabc\r\n"));
  EXPECT_FALSE(loaded.OnFragmentReply(2, "$3\r\nabc\r\n"));
  EXPECT_TRUE(loaded.OnFragmentReply(1, "$3\r\nabc\r\n"));
  EXPECT_EQ(loaded.ReplyBytes(), "$3\r\nabc\r\n");
  Request failed;
  failed.BeginSplit(MergeKind::kSameReply, 2);
  failed.OnFragmentReply(0, "$3\r\nabc\r\n");
  EXPECT_TRUE(failed.OnFragmentReply(1, "-ERR Error compiling script\r\n"));
  EXPECT_EQ(failed.ReplyBytes(), "-ERR Error compiling script\r\n");
  Request differing;
  differing.BeginSplit(MergeKind::kSameReply, 2);
  differing.OnFragmentReply(0, "$3\r\nabc\r\n");
  EXPECT_TRUE(differing.OnFragmentReply(1, "$3\r\nabd\r\n"));
  EXPECT_EQ(differing.ReplyBytes(), "-ERR the servers of the pool answered differently\r\n");
}

TEST(Request, ScriptExistsIsTrueOnlyWhereEveryServerHasTheScript) {
  Request request;
  request.BeginSplit(MergeKind::kAndArray, 2);
  EXPECT_FALSE(request.OnFragmentReply(0, "*3\r\n:1\r\n:1\r\n:0\r\n"));
  EXPECT_TRUE(request.OnFragmentReply(1, "*3\r\n:1\r\n:0\r\n:0\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "*3\r\n:1\r\n:0\r\n:0\r\n");
  Request uneven;
  uneven.BeginSplit(MergeKind::kAndArray, 2);
  uneven.OnFragmentReply(0, "*2\r\n:1\r\n:1\r\n");
  EXPECT_TRUE(uneven.OnFragmentReply(1, "*1\r\n:1\r\n"));
  EXPECT_EQ(uneven.ReplyBytes(), "-ERR the servers of the pool answered differently\r\n");
}

TEST(Request, ScriptKillSucceedsWhereAnyServerStoppedOne) {
  Request killed;
  killed.BeginSplit(MergeKind::kAnyOk, 3);
  killed.OnFragmentReply(0, "-NOTBUSY No scripts in execution right now.\r\n");
  killed.OnFragmentReply(1, "+OK\r\n");
  EXPECT_TRUE(killed.OnFragmentReply(2, "-NOTBUSY No scripts in execution right now.\r\n"));
  EXPECT_EQ(killed.ReplyBytes(), "+OK\r\n");
  Request idle;
  idle.BeginSplit(MergeKind::kAnyOk, 2);
  idle.OnFragmentReply(0, "-NOTBUSY No scripts in execution right now.\r\n");
  EXPECT_TRUE(idle.OnFragmentReply(1, "-NOTBUSY No scripts in execution right now.\r\n"));
  EXPECT_EQ(idle.ReplyBytes(), "-NOTBUSY No scripts in execution right now.\r\n");
  // An error that says more than NOTBUSY wins.
  Request stuck;
  stuck.BeginSplit(MergeKind::kAnyOk, 2);
  stuck.OnFragmentReply(0, "-UNKILLABLE The busy script was sent by a master instance\r\n");
  EXPECT_TRUE(stuck.OnFragmentReply(1, "-NOTBUSY No scripts in execution right now.\r\n"));
  EXPECT_EQ(stuck.ReplyBytes(), "-UNKILLABLE The busy script was sent by a master instance\r\n");
}

TEST(Request, ASumThatWouldOverflowIsAnErrorNotUndefinedBehaviour) {
  // A hostile server's counts: two halves of more than INT64_MAX.
  Request request;
  request.BeginSplit(MergeKind::kSum, 2);
  request.OnFragmentReply(0, ":9223372036854775807\r\n");
  EXPECT_TRUE(request.OnFragmentReply(1, ":1\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "-ERR the servers' counts add up past a 64-bit integer\r\n");
}

TEST(Request, InfoKeyspaceIsTheProxysSectionsThenTheServersKeyspacesSummed) {
  Request request;
  request.BeginSplit(MergeKind::kInfoKeyspace, 2);
  request.fragment_replies.back() = "# Server\r\nredis_version:7.0.0\r\n";
  const std::string first = "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=100\r\n";
  const std::string second =
      "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"
      "db2:keys=5,expires=5,avg_ttl=10\r\n";
  request.OnFragmentReply(0, "$" + std::to_string(first.size()) + "\r\n" + first + "\r\n");
  EXPECT_TRUE(
      request.OnFragmentReply(1, "$" + std::to_string(second.size()) + "\r\n" + second + "\r\n"));
  const std::string text =
      "# Server\r\nredis_version:7.0.0\r\n\r\n# Keyspace\r\n"
      "db0:keys=4,expires=1,avg_ttl=75\r\ndb2:keys=5,expires=5,avg_ttl=10\r\n";
  EXPECT_EQ(request.ReplyBytes(), "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n");
}

TEST(Request, KeysArraysAreConcatenatedInServerOrder) {
  Request request;
  request.BeginSplit(MergeKind::kConcat, 3);
  EXPECT_FALSE(request.OnFragmentReply(2, "*1\r\n$1\r\nc\r\n"));
  EXPECT_FALSE(request.OnFragmentReply(0, "*2\r\n$1\r\na\r\n$1\r\nb\r\n"));
  EXPECT_TRUE(request.OnFragmentReply(1, "*0\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
  request.Reset();
  request.BeginSplit(MergeKind::kConcat, 2);
  EXPECT_FALSE(request.OnFragmentReply(0, "*0\r\n"));
  EXPECT_TRUE(request.OnFragmentReply(1, "-ERR Connection refused\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "-ERR Connection refused\r\n");
}

TEST(Request, RandomKeyPicksANonNilReplyElseAServersNil) {
  for (const std::string_view nil : {std::string_view("$-1\r\n"), std::string_view("_\r\n")}) {
    Request request;
    request.BeginSplit(MergeKind::kRandomNonNull, 3);
    EXPECT_FALSE(request.OnFragmentReply(0, nil));
    EXPECT_FALSE(request.OnFragmentReply(1, nil));
    EXPECT_TRUE(request.OnFragmentReply(2, nil));
    EXPECT_EQ(request.ReplyBytes(), nil);
  }
  bool seen[2] = {false, false};
  for (int round = 0; round < 200; ++round) {
    Request request;
    request.BeginSplit(MergeKind::kRandomNonNull, 3);
    EXPECT_FALSE(request.OnFragmentReply(0, "$1\r\na\r\n"));
    EXPECT_FALSE(request.OnFragmentReply(1, "$-1\r\n"));
    EXPECT_TRUE(request.OnFragmentReply(2, "$1\r\nc\r\n"));
    const std::string_view reply = request.ReplyBytes();
    ASSERT_TRUE(reply == "$1\r\na\r\n" || reply == "$1\r\nc\r\n") << reply;
    seen[reply[4] == 'c'] = true;
  }
  EXPECT_TRUE(seen[0] && seen[1]);
}

TEST(Request, ScanReplyGetsThePoolsCursor) {
  Request request;
  request.BeginSplit(MergeKind::kScan, 1);
  request.scan_server = 1;
  request.scan_servers = 3;
  EXPECT_TRUE(request.OnFragmentReply(0, "*2\r\n$2\r\n12\r\n*1\r\n$1\r\nk\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "*2\r\n$2\r\n37\r\n*1\r\n$1\r\nk\r\n");  // 12 * 3 + 1
  // The server is done: the next one's start, an empty page allowed.
  request.Reset();
  request.BeginSplit(MergeKind::kScan, 1);
  request.scan_server = 1;
  request.scan_servers = 3;
  EXPECT_TRUE(request.OnFragmentReply(0, "*2\r\n$1\r\n0\r\n*0\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "*2\r\n$1\r\n2\r\n*0\r\n");
  // The last server is done: 0.
  request.Reset();
  request.BeginSplit(MergeKind::kScan, 1);
  request.scan_server = 2;
  request.scan_servers = 3;
  EXPECT_TRUE(request.OnFragmentReply(0, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nz\r\n"));
  EXPECT_EQ(request.ReplyBytes(), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nz\r\n");
  // Errors pass through; a reply that is no SCAN reply is refused.
  for (const auto& [server_reply, client_reply] :
       {std::pair<std::string_view, std::string_view>{"-ERR syntax error\r\n",
                                                      "-ERR syntax error\r\n"},
        {"*2\r\n$1\r\nx\r\n*0\r\n", "-ERR unexpected reply to SCAN\r\n"},
        {"*3\r\n$1\r\n0\r\n*0\r\n", "-ERR unexpected reply to SCAN\r\n"}}) {
    request.Reset();
    request.BeginSplit(MergeKind::kScan, 1);
    request.scan_server = 0;
    request.scan_servers = 3;
    EXPECT_TRUE(request.OnFragmentReply(0, server_reply));
    EXPECT_EQ(request.ReplyBytes(), client_reply);
  }
}

}  // namespace
}  // namespace ringproxy::proxy
