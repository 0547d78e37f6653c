#include "config/password_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ringproxy::config {
namespace {

void StripTrailingLineBreaks(std::string* text) {
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) {
    text->pop_back();
  }
}

bool IsEnvironmentName(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
    return false;
  }
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Only a regular file (what a mounted Secret's symlinks lead to) is read, and only up to
// kMaxPasswordFileBytes.
std::optional<std::string> ReadRegularFile(int fd, const std::string& path, std::string* text) {
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    return "cannot be read (" + path + "): " + std::strerror(errno);
  }
  if (S_ISDIR(info.st_mode)) {
    return "cannot be read (" + path + "): " + std::strerror(EISDIR);
  }
  if (!S_ISREG(info.st_mode)) {
    return "cannot be used (" + path + "): not a regular file";
  }
  char buffer[4096];
  while (true) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return "cannot be read (" + path + "): " + std::strerror(errno);
    }
    if (got == 0) {
      return std::nullopt;
    }
    text->append(buffer, static_cast<size_t>(got));
    if (text->size() > kMaxPasswordFileBytes) {
      return "cannot be used (" + path + "): the file is larger than " +
             std::to_string(kMaxPasswordFileBytes) + " bytes, too large for a password";
    }
  }
}

}  // namespace

std::string ResolvePasswordPath(std::string_view path, std::string_view config_dir) {
  if (path.starts_with('/') || config_dir.empty()) {
    return std::string(path);
  }
  std::string resolved(config_dir);
  if (!resolved.ends_with('/')) {
    resolved += '/';
  }
  resolved += path;
  return resolved;
}

std::optional<std::string> ReadPasswordFile(const std::string& path, std::string* password) {
  // Non-blocking, so that a FIFO or a device named by mistake cannot hold the load up.
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return "cannot be opened (" + path + "): " + std::strerror(errno);
  }
  std::string text;
  std::optional<std::string> reason = ReadRegularFile(fd, path, &text);
  close(fd);
  if (reason) {
    return reason;
  }
  StripTrailingLineBreaks(&text);
  if (text.empty()) {
    return "holds no password (" + path + "): the file is empty";
  }
  *password = std::move(text);
  return std::nullopt;
}

std::optional<std::string> ReadPasswordEnv(std::string_view variable, std::string* password) {
  if (!IsEnvironmentName(variable)) {
    return std::string(
        "is not an environment variable name: letters, digits and '_', not beginning with a "
        "digit");
  }
  // Configuration is loaded on the main or the control thread, never while another thread
  // changes the environment.
  const char* value = std::getenv(std::string(variable).c_str());
  if (value == nullptr) {
    return std::string("names an environment variable that is not set");
  }
  std::string text(value);
  StripTrailingLineBreaks(&text);
  if (text.empty()) {
    return std::string("names an environment variable that is empty");
  }
  *password = std::move(text);
  return std::nullopt;
}

}  // namespace ringproxy::config
