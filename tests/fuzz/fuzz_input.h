// The fuzz targets' shared piece: the loaders under test read files, so each input is written to
// an in-memory file (memfd) and handed over as /proc/self/fd/<n>; nothing touches the disk.
// A target catches fwp::Error (a refused input, as intended); any other exception, a crash or a
// sanitizer report is a finding.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace fwp_fuzz {

class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(::memfd_create(name, 0)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  // Replaces the contents with the n bytes at data; returns the path to read them from.
  const std::string& hold(const uint8_t* data, size_t n) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    for (size_t done = 0; done < n;) {
      const ssize_t w = ::pwrite(fd_, data + done, n - done, static_cast<off_t>(done));
      if (w <= 0) std::abort();
      done += static_cast<size_t>(w);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace fwp_fuzz
