// ScriptsRefused: a pool with refuse_scripts refuses every command that runs or manages a script
// or a function, in any case, and nothing else; a pool without it refuses nothing.
#include "dataplane/script_policy.h"

#include <gtest/gtest.h>

namespace ringproxy::proxy {
namespace {

TEST(ScriptsRefused, EveryScriptCommandInAnyCaseWhenThePoolRefusesScripts) {
  config::PoolConfig pool;
  pool.refuse_scripts = true;
  for (const char* command : {"EVAL", "eval", "EvalSha", "EVAL_RO", "evalsha_ro", "FCALL",
                              "fcall_ro", "SCRIPT", "function"}) {
    EXPECT_TRUE(ScriptsRefused(pool, command)) << command;
  }
  for (const char* command : {"GET", "EVALX", "EVA", "SCRIPTS", "FUNCTIONS", "MULTI", ""}) {
    EXPECT_FALSE(ScriptsRefused(pool, command)) << command;
  }
}

TEST(ScriptsRefused, NothingWhenThePoolAllowsScripts) {
  const config::PoolConfig pool;
  EXPECT_FALSE(ScriptsRefused(pool, "EVAL"));
  EXPECT_FALSE(ScriptsRefused(pool, "FCALL"));
}

TEST(ScriptsRefused, TheErrorNamesTheCommandAndTheReason) {
  EXPECT_EQ(ScriptsRefusedError("evalsha"),
            "ERR EVALSHA is refused through this proxy: the pool refuses scripts");
}

}  // namespace
}  // namespace ringproxy::proxy
