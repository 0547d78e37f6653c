// Signal names as nutcracker writes them in its log.
#include "controlplane/signals.h"

#include <gtest/gtest.h>

#include <csignal>
#include <string>

namespace ringproxy::proxy {
namespace {

TEST(Signals, NamesAreTheSymbolicConstants) {
  EXPECT_EQ(std::string(SignalName(SIGTTIN)), "SIGTTIN");
  EXPECT_EQ(std::string(SignalName(SIGTTOU)), "SIGTTOU");
  EXPECT_EQ(std::string(SignalName(SIGHUP)), "SIGHUP");
  EXPECT_EQ(std::string(SignalName(SIGTERM)), "SIGTERM");
  EXPECT_EQ(std::string(SignalName(SIGSEGV)), "SIGSEGV");
  EXPECT_EQ(std::string(SignalName(SIGABRT)), "SIGABRT");
}

TEST(Signals, ANumberWithoutANameSaysSo) {
  EXPECT_EQ(std::string(SignalName(SIGRTMIN + 3)), "unknown signal");
}

}  // namespace
}  // namespace ringproxy::proxy
