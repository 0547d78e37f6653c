// The commands the proxy answers itself: exact replies, and what they do to the session.
#include "dataplane/local_commands.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/auth_failures.h"

namespace ringproxy::proxy {
namespace {

class LocalCommands : public testing::Test {
 protected:
  std::string Answer(std::vector<std::string_view> args) {
    const CommandSpec* spec = LookupCommand(args[0]);
    EXPECT_NE(spec, nullptr);
    EXPECT_EQ(spec->kind, CommandKind::kLocal);
    ByteBuffer out;
    AnswerLocalCommand(*spec, args, LocalContext{&pool_, 0, 1, &auth_failures_, 0}, &session_,
                       &out);
    return std::string(out.view());
  }

  config::PoolConfig pool_;
  ClientSession session_;
  Counter failures_;
  AuthFailures auth_failures_{0, "alpha", &failures_};
};

TEST_F(LocalCommands, PingWithoutArgumentIsPong) { EXPECT_EQ(Answer({"PING"}), "+PONG\r\n"); }

TEST_F(LocalCommands, PingWithArgumentEchoesIt) {
  EXPECT_EQ(Answer({"ping", "hi"}), "$2\r\nhi\r\n");
}

TEST_F(LocalCommands, EchoIsBulk) { EXPECT_EQ(Answer({"ECHO", "a\r\nb"}), "$4\r\na\r\nb\r\n"); }

TEST_F(LocalCommands, QuitSaysOkAndMarksTheSession) {
  EXPECT_EQ(Answer({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(session_.close_after_reply);
}

TEST_F(LocalCommands, AuthWithoutPasswordConfiguredIsNutcrackersError) {
  EXPECT_EQ(Answer({"AUTH", "x"}), "-ERR Client sent AUTH, but no password is set\r\n");
}

TEST_F(LocalCommands, AuthChecksThePassword) {
  pool_.redis_auth = "s3cret";
  EXPECT_EQ(Answer({"AUTH", "wrong"}), "-ERR invalid password\r\n");
  EXPECT_FALSE(session_.authenticated);
  EXPECT_EQ(Answer({"AUTH", "s3cret"}), "+OK\r\n");
  EXPECT_TRUE(session_.authenticated);
}

TEST_F(LocalCommands, AuthWithDefaultUser) {
  pool_.redis_auth = "s3cret";
  EXPECT_EQ(Answer({"AUTH", "default", "s3cret"}), "+OK\r\n");
  EXPECT_TRUE(session_.authenticated);
  EXPECT_EQ(Answer({"AUTH", "admin", "s3cret"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

TEST_F(LocalCommands, AFailedAuthAfterAGoodOneKeepsTheClientAuthenticatedAsRedisDoes) {
  pool_.redis_auth = "s3cret";
  EXPECT_EQ(Answer({"AUTH", "s3cret"}), "+OK\r\n");
  EXPECT_EQ(Answer({"AUTH", "wrong"}), "-ERR invalid password\r\n");
  EXPECT_TRUE(session_.authenticated);
  EXPECT_EQ(Answer({"AUTH", "admin", "s3cret"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_TRUE(session_.authenticated);
}

TEST_F(LocalCommands, SelectZeroIsAccepted) {
  EXPECT_EQ(Answer({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(Answer({"SELECT", "3"}).substr(0, 5), "-ERR ");
  EXPECT_EQ(Answer({"SELECT", "x"}), "-ERR value is not an integer or out of range\r\n");
}

TEST_F(LocalCommands, SelectAcceptsOnlyThePoolsDatabase) {
  pool_.redis_db = 3;
  EXPECT_EQ(Answer({"SELECT", "3"}), "+OK\r\n");
  // Database 0 is not where this pool's keys are: saying OK would be a lie.
  EXPECT_EQ(Answer({"SELECT", "0"}),
            "-ERR SELECT is not supported through the proxy: it serves database 3 only\r\n");
  EXPECT_EQ(Answer({"SELECT", "4"}),
            "-ERR SELECT is not supported through the proxy: it serves database 3 only\r\n");
}

TEST_F(LocalCommands, WrongPasswordsAreCountedAndTheTenthClosesTheConnection) {
  pool_.redis_auth = "s3cret";
  for (uint32_t i = 1; i < AuthFailures::kMaxPerConnection; ++i) {
    EXPECT_EQ(Answer({"AUTH", "guess"}), "-ERR invalid password\r\n");
    EXPECT_EQ(failures_.Get(), i);
    EXPECT_FALSE(session_.close_after_reply) << i;
  }
  EXPECT_EQ(Answer({"HELLO", "2", "AUTH", "default", "guess"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(failures_.Get(), AuthFailures::kMaxPerConnection);
  EXPECT_TRUE(session_.close_after_reply);
}

TEST_F(LocalCommands, AuthWithoutAPasswordToGuessIsNoFailure) {
  EXPECT_EQ(Answer({"AUTH", "x"}), "-ERR Client sent AUTH, but no password is set\r\n");
  EXPECT_EQ(failures_.Get(), 0u);
  pool_.redis_auth = "s3cret";
  EXPECT_EQ(Answer({"AUTH", "s3cret"}), "+OK\r\n");
  EXPECT_EQ(failures_.Get(), 0u);
}

TEST_F(LocalCommands, HelloThreeSwitchesToResp3AndHelloTwoBack) {
  const std::string resp3 = Answer({"HELLO", "3"});
  EXPECT_EQ(resp3.substr(0, 4), "%7\r\n");
  EXPECT_NE(resp3.find("$5\r\nproto\r\n:3\r\n"), std::string::npos);
  EXPECT_EQ(session_.protocol, Protocol::kResp3);
  // Without a version, HELLO describes the connection in the protocol it already speaks.
  EXPECT_EQ(Answer({"HELLO"}).substr(0, 4), "%7\r\n");
  EXPECT_EQ(Answer({"HELLO", "2"}).substr(0, 5), "*14\r\n");
  EXPECT_EQ(session_.protocol, Protocol::kResp2);
}

TEST_F(LocalCommands, HelloRefusesOtherVersionsAndBadOptionsWithoutSwitching) {
  EXPECT_EQ(Answer({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(Answer({"HELLO", "1"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(Answer({"HELLO", "three"}),
            "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(Answer({"HELLO", "3", "SETNAME", "bad name"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(Answer({"HELLO", "3", "NOSUCH"}), "-ERR Syntax error in HELLO option 'NOSUCH'\r\n");
  EXPECT_EQ(session_.protocol, Protocol::kResp2);
  EXPECT_TRUE(session_.name.empty());
}

TEST_F(LocalCommands, AWrongPasswordInHelloLeavesTheProtocolAndName) {
  pool_.redis_auth = "s3cret";
  EXPECT_EQ(Answer({"HELLO", "3", "AUTH", "default", "nope", "SETNAME", "app"}).substr(0, 10),
            "-WRONGPASS");
  EXPECT_EQ(session_.protocol, Protocol::kResp2);
  EXPECT_TRUE(session_.name.empty());
  EXPECT_EQ(Answer({"HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app"}).substr(0, 4),
            "%7\r\n");
  EXPECT_EQ(session_.protocol, Protocol::kResp3);
  EXPECT_EQ(session_.name, "app");
}

TEST_F(LocalCommands, NullsSetsAndMapsTakeTheClientsProtocol) {
  session_.protocol = Protocol::kResp3;
  EXPECT_EQ(Answer({"CLIENT", "GETNAME"}), "_\r\n");
  EXPECT_EQ(Answer({"COMMAND", "INFO", "no-such-command"}), "*1\r\n_\r\n");
  EXPECT_EQ(Answer({"COMMAND", "DOCS"}), "%0\r\n");
  EXPECT_EQ(Answer({"COMMAND", "INFO", "get"}),
            "*1\r\n*6\r\n$3\r\nget\r\n:2\r\n~0\r\n:1\r\n:1\r\n:1\r\n");
  session_.protocol = Protocol::kResp2;
  EXPECT_EQ(Answer({"CLIENT", "GETNAME"}), "$-1\r\n");
  EXPECT_EQ(Answer({"COMMAND", "INFO", "no-such-command"}), "*1\r\n$-1\r\n");
  EXPECT_EQ(Answer({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(Answer({"COMMAND", "INFO", "get"}),
            "*1\r\n*6\r\n$3\r\nget\r\n:2\r\n*0\r\n:1\r\n:1\r\n:1\r\n");
}

TEST_F(LocalCommands, HelloTwoDescribesTheServer) {
  const std::string reply = Answer({"HELLO", "2", "SETNAME", "app"});
  EXPECT_EQ(reply.substr(0, 5), "*14\r\n");
  EXPECT_NE(reply.find("$5\r\nproto\r\n:2\r\n"), std::string::npos);
  EXPECT_EQ(session_.name, "app");
}

TEST_F(LocalCommands, HelloNeedsAuthWhenPasswordIsSet) {
  pool_.redis_auth = "s3cret";
  EXPECT_EQ(Answer({"HELLO", "2"}).substr(0, 7), "-NOAUTH");
  EXPECT_EQ(Answer({"HELLO", "2", "AUTH", "default", "s3cret"}).substr(0, 5), "*14\r\n");
  EXPECT_TRUE(session_.authenticated);
}

TEST_F(LocalCommands, ClientNameRoundTrip) {
  EXPECT_EQ(Answer({"CLIENT", "GETNAME"}), "$-1\r\n");
  EXPECT_EQ(Answer({"CLIENT", "SETNAME", "worker-1"}), "+OK\r\n");
  EXPECT_EQ(Answer({"CLIENT", "GETNAME"}), "$8\r\nworker-1\r\n");
  EXPECT_EQ(Answer({"CLIENT", "SETNAME", "bad name"}).substr(0, 4), "-ERR");
  EXPECT_EQ(Answer({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(Answer({"CLIENT", "KILL", "x"}),
            "-ERR CLIENT KILL is not supported through the proxy\r\n");
}

TEST_F(LocalCommands, CommandCountMatchesTheTable) {
  EXPECT_EQ(Answer({"COMMAND", "COUNT"}), ":" + std::to_string(AllCommands().size()) + "\r\n");
  EXPECT_EQ(Answer({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(Answer({"COMMAND", "INFO", "get", "nosuch"}).substr(0, 4), "*2\r\n");
}

TEST(PasswordMatches, ComparesWholeStrings) {
  EXPECT_TRUE(PasswordMatches("abc", "abc"));
  EXPECT_FALSE(PasswordMatches("abd", "abc"));
  EXPECT_FALSE(PasswordMatches("ab", "abc"));
  EXPECT_FALSE(PasswordMatches("abcd", "abc"));
  EXPECT_FALSE(PasswordMatches("", "abc"));
}

}  // namespace
}  // namespace ringproxy::proxy
