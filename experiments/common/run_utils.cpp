// Implementation of the experiment utilities.
#include "experiments/common/run_utils.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"

namespace fwp::experiments {

std::vector<int64_t> parse_int_list(const std::string& text, int64_t lo, int64_t hi,
                                    int64_t max_count) {
  auto to_int = [&](const std::string& s) -> int64_t {
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    FWP_CHECK(!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size(), "cannot read '",
              s, "' as an integer in the list '", text, "'");
    FWP_CHECK(v >= lo && v <= hi, "'", s, "' in the list '", text, "' is outside [", lo, ", ",
              hi, "]");
    return v;
  };
  std::vector<int64_t> out;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    FWP_CHECK(parts.size() == 3, "a range must be start:end:step, got '", text, "'");
    const int64_t a = to_int(parts[0]), b = to_int(parts[1]);
    int64_t step = 0;
    auto r = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), step);
    FWP_CHECK(r.ec == std::errc() && r.ptr == parts[2].data() + parts[2].size() && step > 0 &&
                  a <= b, "a range needs start <= end and step > 0, got '", text, "'");
    // (b - a) / step + 1 values, counted without overflow (b - a may not fit int64)
    const unsigned __int128 count = (static_cast<__int128>(b) - a) / step + 1;
    FWP_CHECK(count <= static_cast<unsigned __int128>(max_count), "the range '", text, "' has ",
              static_cast<uint64_t>(count), " values, more than ", max_count);
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) out.push_back(a + i * step);
    return out;
  }
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ',');) out.push_back(to_int(p));
  FWP_CHECK(!out.empty(), "empty integer list");
  FWP_CHECK(static_cast<int64_t>(out.size()) <= max_count, "the list '", text, "' has ",
            out.size(), " values, more than ", max_count);
  return out;
}

void CsvTable::add_row(std::vector<std::string> row) {
  FWP_CHECK(row.size() == header_.size(), "CsvTable: row has ", row.size(), " fields, header has ",
            header_.size());
  rows_.push_back(std::move(row));
}

void CsvTable::save(const std::string& path) const {
  std::ostringstream os;
  auto write = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) os << (i ? "," : "") << r[i];
    os << "\n";
  };
  write(header_);
  for (const auto& r : rows_) write(r);
  write_file_atomic(path, os.str());
}

void CsvTable::load(const std::string& path) {
  if (!file_exists(path)) return;
  std::stringstream in(read_file(path));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');) header.push_back(f);
  FWP_CHECK(header == header_, "CsvTable: '", path, "' has header '", line,
            "', which does not match this program's columns");
  rows_.clear();
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> row;
    std::stringstream rs(line);
    for (std::string f; std::getline(rs, f, ',');) row.push_back(f);
    while (row.size() < header_.size() && line.back() == ',') row.push_back("");
    FWP_CHECK(row.size() == header_.size(), "CsvTable: malformed line in '", path, "': ", line);
    rows_.push_back(row);
  }
}

FileLock::FileLock(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  FWP_CHECK(fd_ >= 0, "cannot open the lock file '", path, "': ", std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    throw Error(cat("cannot lock '", path, "': ", std::strerror(err)));
  }
}

FileLock::~FileLock() { ::close(fd_); }  // closing releases the lock

int CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  throw Error(cat("CsvTable: no column '", name, "'"));
}

std::string format_double(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

std::string format_duration(double s) {
  char buf[64];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm %02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh %02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

namespace {
namespace fs = std::filesystem;

// What a failure must put back: folders this process created, and the files that were in an
// opened run folder, as they were at the last kept state. Files over kMaxRemembered bytes (none of
// a run's own logs and settings come near it) are left as they are.
constexpr uintmax_t kMaxRemembered = 64 << 20;
struct RunFolders {
  std::vector<fs::path> created;  // removed on failure, forgotten once kept
  std::vector<fs::path> opened;   // run folders: their files put back on failure
  std::map<fs::path, std::string> files;  // path -> bytes, in the opened folders
  std::set<fs::path> untouched;           // files too large to remember, and every folder there
};
RunFolders& run_folders() {
  static RunFolders r;
  return r;
}

bool write_in_progress(const fs::path& p) {  // write_file_atomic's temporary file
  return p.filename().string().find(".tmp.") != std::string::npos;
}
// Left as they are: lock files (another process may hold one), and checkpoints, which are only
// ever replaced whole by a verified one, so the last one on disk is always good.
bool left_as_is(const fs::path& p) {
  return p.extension() == ".lock" || p.extension() == ".safetensors";
}

void remember_files(const fs::path& dir) {
  RunFolders& r = run_folders();
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    const fs::path& p = it->path();
    if (it->is_directory(ec)) r.untouched.insert(p);
    if (!it->is_regular_file(ec) || write_in_progress(p) || left_as_is(p)) continue;
    if (it->file_size(ec) > kMaxRemembered) r.untouched.insert(p);
    else r.files[p] = read_file(p.string());
  }
}

fs::path normal_absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (!p.empty() && p.filename().empty()) p = p.parent_path();  // "out/" -> "out"
  return p;
}
}  // namespace

void make_dirs(const std::string& path) {
  std::error_code ec;
  // The outermost folder that does not exist yet is the one a failed run must take back.
  fs::path outermost;
  for (fs::path p = normal_absolute(path); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec) || ec) break;
    outermost = p;
    if (p == p.parent_path()) break;
  }
  fs::create_directories(path, ec);
  FWP_CHECK(!ec, "cannot create directory '", path, "': ", ec.message());
  if (!outermost.empty()) run_folders().created.push_back(outermost);
}

void open_run_folder(const std::string& path) {
  const fs::path dir = normal_absolute(path);
  RunFolders& r = run_folders();
  for (const fs::path& d : r.opened)
    if (d == dir) return;
  std::error_code ec;
  const bool existed = fs::is_directory(dir, ec);
  make_dirs(path);
  if (existed) remember_files(dir);
  r.opened.push_back(dir);
}

void keep_run_folders() {
  RunFolders& r = run_folders();
  const std::vector<fs::path> opened = r.opened;
  r = RunFolders{};
  r.opened = opened;
  for (const fs::path& d : opened) remember_files(d);
}

void restore_run_folders() {
  RunFolders& r = run_folders();
  std::error_code ec;  // best effort: the program is already failing with its own message
  for (const fs::path& dir : r.created) fs::remove_all(dir, ec);
  for (const fs::path& dir : r.opened) {  // what the run added goes (folders with their files)
    std::vector<fs::path> added;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
      const fs::path& p = it->path();
      if (!r.files.count(p) && !r.untouched.count(p) && !left_as_is(p)) added.push_back(p);
    }
    for (const fs::path& p : added) fs::remove_all(p, ec);
  }
  for (const auto& [path, bytes] : r.files) {  // what it changed or removed is written back
    try {
      if (fs::exists(path, ec) && read_file(path.string()) == bytes) continue;
      fs::create_directories(path.parent_path(), ec);
      write_file_atomic(path.string(), bytes);
    } catch (const Error&) {
    }
  }
  r = RunFolders{};
}

MetricsCsv::MetricsCsv(std::string path, std::vector<std::string> columns)
    : path_(std::move(path)), columns_(columns), table_(std::move(columns)) {}

void MetricsCsv::resume(int64_t step) {
  CsvTable old(columns_);
  old.load(path_);
  table_ = CsvTable(columns_);
  for (const auto& row : old.rows()) {
    int64_t s = 0;
    auto r = std::from_chars(row[0].data(), row[0].data() + row[0].size(), s);
    if (r.ec == std::errc() && s <= step) table_.add_row(row);
  }
  table_.save(path_);
}

void MetricsCsv::add(const std::vector<double>& values) {
  std::vector<std::string> row;
  for (double v : values) row.push_back(std::isnan(v) ? "" : format_double(v, 8));
  table_.add_row(std::move(row));
  table_.save(path_);
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("'", path, "' is not valid JSON: ", e.what()));
  }
}

double MetricsCsv::last(const std::string& column) const {
  const int c = table_.column(column);
  for (auto it = table_.rows().rbegin(); it != table_.rows().rend(); ++it) {
    const std::string& v = (*it)[c];
    double x = 0.0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    if (!v.empty() && r.ec == std::errc() && r.ptr == v.data() + v.size()) return x;
  }
  return NAN;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace fwp::experiments
