// Replays fuzz inputs without libFuzzer, so the regression inputs and seed corpora run as plain
// tests in every build (with g++ too, and under the ASan+UBSan stage): each file named, and each
// regular file in each directory named, goes through LLVMFuzzerTestOneInput once, in name order.
//
// Each input runs in a child process of its own, so one that aborts (a violated property, a
// sanitizer report) does not hide the others: every failing input is listed, and the exit status
// is non-zero if there was one. The parent never calls the target, so each child also sets the
// target up from scratch (the connection target starts threads, which a fork would not carry).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> Inputs(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.is_regular_file() && entry.path().filename() != "README.md") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t replayed = 0;
  std::vector<std::string> failed;
  for (int i = 1; i < argc; ++i) {
    if (!std::filesystem::exists(argv[i])) continue;  // no regressions recorded for this target
    for (const auto& file : Inputs(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 1;
      }
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) {
        std::perror("fork");
        return 1;
      }
      if (pid == 0) {
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        std::exit(0);
      }
      int status = 0;
      if (waitpid(pid, &status, 0) != pid) {
        std::perror("waitpid");
        return 1;
      }
      ++replayed;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        failed.push_back(file.string());
        std::fprintf(stderr, "FAILED: %s (%zu bytes): %s %d\n", file.c_str(), bytes.size(),
                     WIFSIGNALED(status) ? "signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      }
    }
  }
  std::printf("replayed %zu inputs, %zu failed\n", replayed, failed.size());
  for (const std::string& file : failed) std::printf("  failed: %s\n", file.c_str());
  return replayed > 0 && failed.empty() ? 0 : 1;
}
