// GiveBack: the command that puts back what a blocking command took for a client that left,
// from its arguments and the server's reply, in RESP2 and RESP3.
#include "dataplane/give_back.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/command_table.h"

namespace ringproxy::proxy {
namespace {

std::string GiveBack(std::vector<std::string> args, std::string_view reply) {
  return GiveBackCommand(args, reply);
}

TEST(GiveBack, ListPopsArePushedBackAtTheEndTheyCameFrom) {
  EXPECT_EQ(GiveBack({"BLPOP", "a", "b", "0"}, "*2\r\n$1\r\nb\r\n$3\r\none\r\n"),
            "*3\r\n$5\r\nLPUSH\r\n$1\r\nb\r\n$3\r\none\r\n");
  EXPECT_EQ(GiveBack({"brpop", "a", "0"}, "*2\r\n$1\r\na\r\n$1\r\nx\r\n"),
            "*3\r\n$5\r\nRPUSH\r\n$1\r\na\r\n$1\r\nx\r\n");
}

TEST(GiveBack, SeveralElementsGoBackInReverseSoTheListIsAsBefore) {
  // [x, y, z] LMPOP LEFT COUNT 2 gave x, y: LPUSH y x restores [x, y, z].
  EXPECT_EQ(GiveBack({"BLMPOP", "0", "1", "k", "LEFT", "COUNT", "2"},
                     "*2\r\n$1\r\nk\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"),
            "*4\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\ny\r\n$1\r\nx\r\n");
  // [x, y, z] RPOP COUNT 2 gave z, y: RPUSH y z restores it.
  EXPECT_EQ(GiveBack({"blmpop", "0", "2", "j", "k", "right", "COUNT", "2"},
                     "*2\r\n$1\r\nk\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n"),
            "*4\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$1\r\ny\r\n$1\r\nz\r\n");
}

TEST(GiveBack, SortedSetPopsAreAddedBackWithTheirScores) {
  const std::string zadd = "*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm\r\n";
  EXPECT_EQ(GiveBack({"BZPOPMIN", "z", "0"}, "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\n1.5\r\n"), zadd);
  // RESP3: the score is a double.
  EXPECT_EQ(GiveBack({"BZPOPMAX", "z", "0"}, "*3\r\n$1\r\nz\r\n$1\r\nm\r\n,1.5\r\n"), zadd);
  EXPECT_EQ(GiveBack({"BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"},
                     "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,inf\r\n"),
            "*6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\ninf\r\n$1\r\nb\r\n");
}

TEST(GiveBack, NothingIsGivenBackForATimeoutAnErrorOrACommandThatKeepsWhatItTook) {
  EXPECT_EQ(GiveBack({"BLPOP", "a", "0"}, "*-1\r\n"), "");
  EXPECT_EQ(GiveBack({"BLPOP", "a", "0"}, "_\r\n"), "");  // RESP3's nil
  EXPECT_EQ(GiveBack({"BLPOP", "a", "0"}, "-WRONGTYPE no\r\n"), "");
  EXPECT_EQ(GiveBack({"BLMOVE", "a", "b", "LEFT", "LEFT", "0"}, "$1\r\nx\r\n"), "");
  EXPECT_EQ(GiveBack({"BRPOPLPUSH", "a", "b", "0"}, "$1\r\nx\r\n"), "");
  EXPECT_EQ(GiveBack({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}, "*1\r\n*2\r\n$1\r\ns\r\n*0\r\n"),
            "");
  // A reply that does not have the shape the command gives is left alone.
  EXPECT_EQ(GiveBack({"BLPOP", "a", "0"}, "*1\r\n$1\r\na\r\n"), "");
}

TEST(GiveBack, OnlyPopsKeepTheirArguments) {
  for (const char* name : {"blpop", "brpop", "blmpop", "bzpopmin", "bzpopmax", "bzmpop"}) {
    EXPECT_TRUE(MayTake(*LookupCommand(name))) << name;
  }
  for (const char* name : {"blmove", "brpoplpush", "xread", "xreadgroup", "lpop"}) {
    EXPECT_FALSE(MayTake(*LookupCommand(name))) << name;
  }
}

}  // namespace
}  // namespace ringproxy::proxy
