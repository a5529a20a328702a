// Reading and writing whole files. Writes are atomic: the bytes go to a temporary file in the
// same folder, which is flushed to disk and then renamed over the target, so a reader (or a
// crash) sees either the old file or the complete new one, never half a file.
#pragma once
#include <string>

namespace fwp {

void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);  // throws fwp::Error naming the path
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);  // an existing folder (readers refuse to read one)
// Removes the temporary files that writes interrupted by a kill left in `dir` (not its
// subfolders): "<name>.tmp.<pid>" and ".<name>.tmp.<pid>.<n>" whose process no longer runs.
// Returns how many; a missing folder has none.
int remove_stale_temp_files(const std::string& dir);

}  // namespace fwp
