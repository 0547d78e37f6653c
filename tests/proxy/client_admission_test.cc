// ClientAdmission: the shared counts behind max_clients and --max-clients. The worker threads
// that use it are stood in for by plain threads racing for the last slots.
#include "dataplane/client_admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ringproxy::proxy {
namespace {

using Verdict = ClientAdmission::Verdict;

TEST(ClientAdmission, AdmitsUpToThePoolLimitThenRefusesUntilOneLeaves) {
  ClientAdmission admission;
  std::atomic<int64_t>* alpha = admission.PoolCount("alpha");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(admission.Admit(alpha, 3), Verdict::kAdmitted) << i;
  EXPECT_EQ(admission.Admit(alpha, 3), Verdict::kPoolFull);
  EXPECT_EQ(admission.Admit(alpha, 3), Verdict::kPoolFull);
  EXPECT_EQ(alpha->load(), 3);  // refusals count nothing
  admission.Release(alpha);
  EXPECT_EQ(admission.Admit(alpha, 3), Verdict::kAdmitted);
  EXPECT_EQ(admission.Admit(alpha, 3), Verdict::kPoolFull);
}

TEST(ClientAdmission, ZeroMeansNoLimit) {
  ClientAdmission admission(0);
  std::atomic<int64_t>* alpha = admission.PoolCount("alpha");
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(admission.Admit(alpha, 0), Verdict::kAdmitted) << i;
  EXPECT_EQ(alpha->load(), 10000);
  EXPECT_EQ(admission.process_count(), 10000);
}

TEST(ClientAdmission, TheSameNameGivesTheSameCountSoAReloadKeepsCounting) {
  ClientAdmission admission;
  std::atomic<int64_t>* first = admission.PoolCount("alpha");
  std::atomic<int64_t>* beta = admission.PoolCount("beta");
  EXPECT_NE(first, beta);
  EXPECT_EQ(admission.Admit(first, 2), Verdict::kAdmitted);
  // The pool as a reload rebuilds it: same name, same count; the new limit applies at once.
  std::atomic<int64_t>* again = admission.PoolCount("alpha");
  EXPECT_EQ(again, first);
  EXPECT_EQ(admission.Admit(again, 1), Verdict::kPoolFull);
  EXPECT_EQ(admission.Admit(again, 2), Verdict::kAdmitted);
  EXPECT_EQ(again->load(), 2);
}

TEST(ClientAdmission, TheProcessLimitSpansPoolsAndPoolLimitsStillApply) {
  ClientAdmission admission(3);
  std::atomic<int64_t>* alpha = admission.PoolCount("alpha");
  std::atomic<int64_t>* beta = admission.PoolCount("beta");
  EXPECT_EQ(admission.Admit(alpha, 0), Verdict::kAdmitted);
  EXPECT_EQ(admission.Admit(alpha, 0), Verdict::kAdmitted);
  EXPECT_EQ(admission.Admit(beta, 1), Verdict::kAdmitted);
  EXPECT_EQ(admission.Admit(beta, 0), Verdict::kProcessFull);
  EXPECT_EQ(admission.Admit(alpha, 0), Verdict::kProcessFull);
  // A refusal by the process leaves the pool's count as it was.
  EXPECT_EQ(alpha->load(), 2);
  EXPECT_EQ(beta->load(), 1);
  admission.Release(alpha);
  EXPECT_EQ(admission.Admit(beta, 1), Verdict::kPoolFull);  // beta's own limit, before the room
  EXPECT_EQ(admission.Admit(beta, 2), Verdict::kAdmitted);
  EXPECT_EQ(admission.process_count(), 3);
  EXPECT_EQ(admission.process_limit(), 3);
}

// Threads admitting and releasing at once never hold more than the limit together, and every
// admission is matched by its release.
TEST(ClientAdmission, RacingThreadsNeverPassTheLimit) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20000;
  constexpr int64_t kLimit = 5;
  ClientAdmission admission(kLimit + 2);
  std::atomic<int64_t>* pool = admission.PoolCount("alpha");
  std::atomic<int64_t> held{0};
  std::atomic<int64_t> most_held{0};
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        if (admission.Admit(pool, kLimit) != Verdict::kAdmitted) continue;
        admitted.fetch_add(1);
        const int64_t now = held.fetch_add(1) + 1;
        int64_t most = most_held.load();
        while (now > most && !most_held.compare_exchange_weak(most, now)) {
        }
        held.fetch_sub(1);
        admission.Release(pool);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(most_held.load(), kLimit);
  EXPECT_GT(admitted.load(), 0);
  EXPECT_EQ(pool->load(), 0);
  EXPECT_EQ(admission.process_count(), 0);
}

}  // namespace
}  // namespace ringproxy::proxy
