// Passwords that live outside the configuration file: in a file (a Kubernetes Secret mounted as a
// volume) or in an environment variable (a Secret given through `env`), so that the password is
// never written into a ConfigMap. Read at load time, so every reload reads them again.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringproxy::config {

// A password file larger than this is refused: it is not a password, and reading it would let a
// wrong path (a log, say) fill memory. Only regular files are read at all: a FIFO or a device
// could hold the load up forever.
constexpr size_t kMaxPasswordFileBytes = 64 * 1024;

// `path` as written, or, when relative, joined to `config_dir` (the configuration file's
// directory; empty: left relative to the working directory).
std::string ResolvePasswordPath(std::string_view path, std::string_view config_dir);

// Both read functions strip trailing CR and LF bytes (an editor's or `echo`'s final newline,
// which a Secret created from a file keeps), and refuse a password that is then empty. They return
// nullopt and set `*password`, or return why not as a phrase that follows the quoted key value in
// a message.
std::optional<std::string> ReadPasswordFile(const std::string& path, std::string* password);
std::optional<std::string> ReadPasswordEnv(std::string_view variable, std::string* password);

}  // namespace ringproxy::config
