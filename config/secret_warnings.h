// Warnings about how a configuration keeps its secrets, for the log at start and at each reload:
// a password that is a well-known placeholder (the shipped examples' "change-me-...", Redis's
// "foobared", "password"...) and a secret file (a password file, a TLS private key) that users
// other than the proxy's can read. Neither stops the proxy: a try-out with the example Secret
// must still run, but nobody should run it that way unawares.
//
// A file is readable by others when "other" may read it, or when its group may and that group
// is not needed for the proxy to read it: the file's group is none of the proxy's groups (so
// other users hold the access), or the proxy owns the file (so the owner's bit already serves
// it). A Kubernetes Secret mounted with defaultMode 0440 and the pod's fsGroup (owner root,
// group the proxy's) is fine; its default mode 0644, or a 0640 file of the proxy's own, is not.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "config/pool_config.h"

namespace ringproxy::config {

// Who reads the files: the process's effective user and all its groups.
struct FileReader {
  uid_t uid = 0;
  std::vector<gid_t> groups;

  // The running process.
  static FileReader Current();
};

// One sentence per problem, naming the pool and the key or file, never a password.
std::vector<std::string> SecretWarnings(const Config& config, const FileReader& reader);

// Whether `password` is a well-known placeholder or default (case-insensitive).
bool IsPlaceholderPassword(const std::string& password);

}  // namespace ringproxy::config
