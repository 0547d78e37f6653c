// Scripts and a pool's refuse_scripts. EVAL and FCALL run on a server with the proxy's own rights
// and reach every command there, the ones the proxy refuses included (FLUSHALL, MIGRATE to any
// host): the proper fence is an ACL user for the proxy on the servers, and a pool that needs no
// scripts can also refuse them here.
#pragma once

#include <string>
#include <string_view>

#include "config/pool_config.h"

namespace ringproxy::proxy {

// True when `command` (any case) runs or manages scripts or functions (EVAL, EVALSHA, EVAL_RO,
// EVALSHA_RO, FCALL, FCALL_RO, SCRIPT, FUNCTION) and `pool` refuses them.
bool ScriptsRefused(const config::PoolConfig& pool, std::string_view command);

// The error a refused command gets, without the leading '-'.
std::string ScriptsRefusedError(std::string_view command);

}  // namespace ringproxy::proxy
