// Request: merging split replies — key order restored, sums, all-OK, and one failed fragment
// failing the whole command.
#include "proxy/request.h"

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

}  // namespace
}  // namespace ringproxy::proxy
