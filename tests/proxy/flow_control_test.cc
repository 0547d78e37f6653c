// FlowControl: the policy that keeps a client that writes before it reads from deadlocking, and
// bounds what a client that never reads can cost, checked on counts alone.
#include "dataplane/flow_control.h"

#include <gtest/gtest.h>

namespace ringproxy::proxy {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr uint64_t kSecond = 1000000000;

FlowLimits Defaults() { return FlowLimits{}; }

TEST(FlowControl, DefaultsAreRedisLikeAndLetOneLargestRequestsReplyThrough) {
  const FlowLimits limits = Defaults();
  EXPECT_EQ(limits.output.hard_bytes, 1024 * kMiB);
  EXPECT_EQ(limits.output.soft_bytes, 32 * kMiB);
  EXPECT_EQ(limits.output.soft_seconds, 10u);
  // A 512 MiB reply (the largest request's) is under the hard limit.
  FlowState state;
  state.held_reply_bytes = 512 * kMiB;
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, 0, true, 0), OutputVerdict::kKeep);
}

TEST(FlowControl, RepliesNeverStopTheReadingOfAClientThatWritesBeforeItReads) {
  const FlowLimits limits = Defaults();
  FlowState state;
  state.held_reply_bytes = 200 * kMiB;  // far past the soft limit: forwarding stopped
  const bool forwarding = FlowControl::ShouldForward(limits, state, true);
  EXPECT_FALSE(forwarding);
  // ... but its socket is still read, into the query buffer, up to its limit.
  state.unforwarded_bytes = 10 * kMiB;
  EXPECT_TRUE(FlowControl::ShouldRead(limits, state, true, forwarding));
  state.unforwarded_bytes = limits.query_buffer_bytes;
  EXPECT_FALSE(FlowControl::ShouldRead(limits, state, true, forwarding));
  // Paused, it is read again once below half.
  state.unforwarded_bytes = limits.query_buffer_bytes / 2 + 1;
  EXPECT_FALSE(FlowControl::ShouldRead(limits, state, false, forwarding));
  state.unforwarded_bytes = limits.query_buffer_bytes / 2 - 1;
  EXPECT_TRUE(FlowControl::ShouldRead(limits, state, false, forwarding));
}

TEST(FlowControl, RequestsInFlightStopReadingUntilHalfAreAnswered) {
  const FlowLimits limits = Defaults();
  FlowState state;
  state.pending_requests = limits.max_pending_requests;
  EXPECT_FALSE(FlowControl::ShouldRead(limits, state, true, true));
  state.pending_requests = limits.max_pending_requests / 2;
  EXPECT_FALSE(FlowControl::ShouldRead(limits, state, false, true));
  state.pending_requests = limits.max_pending_requests / 2 - 1;
  EXPECT_TRUE(FlowControl::ShouldRead(limits, state, false, true));
  // Bytes toward servers count as well: a client pipelining large SETs to a paused server.
  state = FlowState{};
  state.pending_requests = 40;
  state.pending_request_bytes = 40 * kMiB;
  EXPECT_FALSE(FlowControl::ShouldRead(limits, state, true, true));
  // With nothing in flight it reads, so one request larger than the limit still goes through;
  // while that one is in flight, nothing more is read.
  state.pending_requests = 0;
  state.pending_request_bytes = 0;
  EXPECT_TRUE(FlowControl::ShouldRead(limits, state, true, true));
  state.pending_requests = 1;
  state.pending_request_bytes = 512 * kMiB;
  EXPECT_FALSE(FlowControl::ShouldRead(limits, state, true, true));
}

TEST(FlowControl, RequestsInFlightAreReckonedAtTheClientsReplySize) {
  const FlowLimits limits = Defaults();
  // 1 MiB replies: some 32 in flight, not thousands.
  EXPECT_TRUE(FlowControl::InFlightWithinWindow(limits, 0, 31, kMiB));
  EXPECT_FALSE(FlowControl::InFlightWithinWindow(limits, 0, 32, kMiB));
  // Small replies: the whole count limit.
  EXPECT_TRUE(FlowControl::InFlightWithinWindow(limits, 0, 8191, 64));
  // Held replies take their share of the window.
  EXPECT_FALSE(FlowControl::InFlightWithinWindow(limits, 31 * kMiB, 2, kMiB));
  // One request may always go, whatever its reply.
  EXPECT_TRUE(FlowControl::InFlightWithinWindow(limits, 31 * kMiB, 0, 512 * kMiB));
}

TEST(FlowControl, TheReplyEstimateRisesAtOnceAndFallsByHalves) {
  const FlowLimits limits = Defaults();
  size_t estimate = FlowControl::InitialReplyEstimate(limits);
  EXPECT_EQ(estimate, 512u * 1024);
  estimate = FlowControl::NextReplyEstimate(estimate, 4 * kMiB);
  EXPECT_EQ(estimate, 4 * kMiB);
  for (int i = 0; i < 20; ++i) estimate = FlowControl::NextReplyEstimate(estimate, 5);
  EXPECT_LE(estimate, 8u);
}

TEST(FlowControl, ForwardingResumesOnlyBelowHalfTheWindow) {
  const FlowLimits limits = Defaults();
  FlowState state;
  state.held_reply_bytes = 20 * kMiB;
  EXPECT_TRUE(FlowControl::ShouldForward(limits, state, true));
  EXPECT_FALSE(FlowControl::ShouldForward(limits, state, false));
  state.held_reply_bytes = 15 * kMiB;
  EXPECT_TRUE(FlowControl::ShouldForward(limits, state, false));
}

TEST(FlowControl, OnlyAClientThatDoesNotReadIsCut) {
  const FlowLimits limits = Defaults();
  FlowState state;
  state.held_reply_bytes = state.writable_reply_bytes = 40 * kMiB;
  // Taking or sending bytes keeps it, however long it has held replies.
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, 0, false, 9 * kSecond), OutputVerdict::kKeep);
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, 0, false, 10 * kSecond),
            OutputVerdict::kStalledAtSoftLimit);
  // Replies that wait behind a slow server's are not the client's fault.
  state.writable_reply_bytes = 0;
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, 0, false, 100 * kSecond), OutputVerdict::kKeep);
  // Nor is waiting with little held: a client whose requests wait for a frozen server.
  state.held_reply_bytes = state.writable_reply_bytes = kMiB;
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, 0, false, 100 * kSecond), OutputVerdict::kKeep);
  // Past the hard limit it goes at once.
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, 1024 * kMiB, true, 0),
            OutputVerdict::kOverHardLimit);
}

TEST(FlowControl, ZeroTurnsALimitOff) {
  FlowLimits limits = Defaults();
  limits.output = {0, 0, 0};
  FlowState state;
  state.held_reply_bytes = state.writable_reply_bytes = 4096 * kMiB;
  EXPECT_EQ(FlowControl::CheckOutput(limits, state, kMiB, false, 1000 * kSecond),
            OutputVerdict::kKeep);
  // Forwarding still reckons requests in flight against a default window.
  EXPECT_FALSE(FlowControl::InFlightWithinWindow(limits, 0, 64, kMiB));
}

TEST(FlowControl, TheDispatchLimitAgreesWithTheWindowCheckAtEveryCount) {
  // The connection stops a batch at DispatchLimit and resumes when InFlightWithinWindow says so:
  // if they disagreed at one count, a held client would be resumed forever without progress.
  const FlowLimits limits = Defaults();
  for (const size_t held : {size_t{0}, kMiB, 31 * kMiB + 12345, 32 * kMiB - 1, 32 * kMiB}) {
    for (const size_t estimate : {size_t{1}, size_t{7}, size_t{3} * 1000 * 1000, 5 * kMiB}) {
      const size_t limit = FlowControl::DispatchLimit(limits, held, estimate);
      for (size_t pending = 1; pending < limit + 3 && pending < 100000; ++pending) {
        EXPECT_EQ(FlowControl::InFlightWithinWindow(limits, held, pending, estimate),
                  pending < limit)
            << held << " " << estimate << " " << pending;
      }
    }
  }
}

}  // namespace
}  // namespace ringproxy::proxy
