// Helpers of the tests that run the programs (flag errors, files they write): run_command runs a
// shell command and returns its exit status (-1 if it did not exit normally) and its stdout +
// stderr; TinyCorporaFolder is a scratch folder holding the tiny corpora.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "tests/catch.h"

namespace fwp_test {

inline std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A folder <temp>/<name>_<pid> with data/bible-lm and data/bible-mt written by `maker` (the
// make_tiny_corpora program), removed with everything in it when the object goes.
class TinyCorporaFolder {
 public:
  TinyCorporaFolder(const std::string& name, const std::string& maker)
      : dir_(std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    REQUIRE(std::system((maker + " " + (dir_ / "data").string() + " > /dev/null").c_str()) == 0);
  }
  ~TinyCorporaFolder() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TinyCorporaFolder(const TinyCorporaFolder&) = delete;
  TinyCorporaFolder& operator=(const TinyCorporaFolder&) = delete;
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace fwp_test
