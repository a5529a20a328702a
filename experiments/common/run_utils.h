// Small utilities the experiment programs share: integer lists from the command line, CSV
// tables written atomically (so an interrupted run never leaves half a file), timing, a run's
// metrics CSV and result JSON.
#pragma once
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fwp::experiments {

// "40" -> {40};  "40,80,160" -> {40, 80, 160};  "20:100:20" -> {20, 40, 60, 80, 100}.
// Every value must lie in [lo, hi] and there may be at most max_count of them; throws fwp::Error
// naming the text otherwise (no overflow, however large the numbers).
std::vector<int64_t> parse_int_list(const std::string& text, int64_t lo = INT64_MIN,
                                    int64_t hi = INT64_MAX, int64_t max_count = 100000);

// A CSV table kept in memory and rewritten atomically on save(). load() reads an existing file
// (the header must match), which is how sweeps resume.
class CsvTable {
 public:
  explicit CsvTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row);
  void save(const std::string& path) const;
  void load(const std::string& path);  // no-op if the file does not exist
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  int column(const std::string& name) const;  // index of a header column; throws if absent

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string format_double(double v, int precision = 6);
std::string format_duration(double seconds);  // "1h 02m", "3m 07s", "12.3s"

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
 private:
  std::chrono::steady_clock::time_point start_;
};

// An exclusive advisory lock (flock) on the file `path`, created if missing, held while the object
// lives. Processes that share a file (two sweeps writing one summary.csv) take it around each
// read-modify-write, so neither loses the other's rows.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// A failed run leaves the disk as it found it.
//
// make_dirs(path) creates a directory and its parents (like mkdir -p; fwp::Error on failure) and
// remembers the outermost folder it had to create. open_run_folder(path) does the same for the
// folder a run writes, and also remembers the small files already there (a resumed run rewrites
// command.txt, config.json, metrics.csv, ... before its first new checkpoint). If the program then
// fails (experiments::guarded_main calls restore_run_folders()), a created folder is removed, files
// and all, and a remembered one gets its files back as they were: what the run added goes, what it
// changed is written back. Every checkpoint or finished result is a new state worth keeping:
// keep_run_folders() makes the disk as it is now the state a later failure leaves.
//
// Only for folders one process writes: a folder that several sweeps share (fwp-synthetic's OUT)
// gets make_dirs, whose undo removes only what did not exist before.
void make_dirs(const std::string& path);
void open_run_folder(const std::string& path);
void keep_run_folders();
void restore_run_folders();

// A run's result files.
// A metrics CSV of numbers, rewritten atomically after every row. NaN is written as an empty
// field (e.g. no validation at this step). The first column must be the step.
class MetricsCsv {
 public:
  MetricsCsv(std::string path, std::vector<std::string> columns);
  // For --resume: reads the existing file (same columns) and drops rows after `step`, which an
  // interrupted run wrote after its last checkpoint.
  void resume(int64_t step);
  void add(const std::vector<double>& values);
  // The last number in `column` (rows in order; empty fields skipped), NaN if there is none.
  double last(const std::string& column) const;

 private:
  std::string path_;
  std::vector<std::string> columns_;
  CsvTable table_;
};

// Reads a JSON file; throws fwp::Error naming the file if it is unreadable or not JSON.
nlohmann::json read_json_file(const std::string& path);
// Pretty-printed (2 spaces) and written atomically.
void write_json(const std::string& path, const nlohmann::json& j);

}  // namespace fwp::experiments
