// Reading and writing whole files. Writes are atomic: the bytes go to a temporary file in the
// same folder, which is flushed to disk and then renamed over the target, so a reader (or a
// crash) sees either the old file or the complete new one, never half a file.
#pragma once
#include <string>

namespace fwp {

void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);  // throws fwp::Error naming the path
bool file_exists(const std::string& path);

}  // namespace fwp
