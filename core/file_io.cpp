// POSIX implementation of atomic file writes: write temp, fsync, rename, fsync the folder.
#include "core/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace fwp {

namespace {
std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}
}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FWP_CHECK(fd >= 0, "write_file_atomic: cannot create '", tmp, "': ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(cat("write_file_atomic: writing '", tmp, "' failed: ", err));
    }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(cat("write_file_atomic: cannot replace '", path, "': ", err));
  }
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY);
  if (dfd >= 0) {  // make the rename itself durable; best effort
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  FWP_CHECK(!is_directory(path), "cannot read '", path, "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  FWP_CHECK(in.good(), "cannot open '", path, "': ", std::strerror(errno));
  std::ostringstream os;
  os << in.rdbuf();
  FWP_CHECK(!in.bad(), "error while reading '", path, "'");
  return os.str();
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

namespace {
// The writer's process id in a temporary name: "<name>.tmp.<pid>" (write_file_atomic) or
// ".<name>.tmp.<pid>.<n>" (save_safetensors); 0 for other names.
long temp_file_pid(const std::string& name) {
  static const std::regex kTemp(R"(\..+\.tmp\.([0-9]{1,9})\.[0-9]+|.+\.tmp\.([0-9]{1,9}))");
  std::smatch m;
  if (!std::regex_match(name, m, kTemp)) return 0;
  return std::stol(m[1].matched ? m[1].str() : m[2].str());
}
}  // namespace

int remove_stale_temp_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const long pid = temp_file_pid(name);
    // a writer that is gone (another process sharing the folder may be writing right now)
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  int removed = 0;
  for (const std::string& name : stale) removed += ::unlink((dir + "/" + name).c_str()) == 0;
  return removed;
}

}  // namespace fwp
