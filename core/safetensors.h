// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
//   8 bytes   N, the header size, unsigned 64-bit little-endian
//   N bytes   JSON: {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"<key>": "<string value>", ...}}   (metadata optional)
//   rest      the tensors' bytes, row-major little-endian, back to back; offsets count from here
// Files are written atomically (temp file in the same folder, fsync, rename), so a crash or a
// failing write never leaves a half-written checkpoint under the real name. Reading validates
// the whole file before returning anything; errors name the file and the tensor.
#pragma once
#include <map>
#include <string>

#include "core/tensor.h"

namespace fwp {

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Writes f32 tensors as "F32" and f64 tensors as "F64" (CPU tensors; names must be non-empty
// and not "__metadata__"). Replaces an existing file at `path` only once the new one is complete.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a whole file. Throws fwp::Error naming the file (and the tensor) if the file is
// truncated, the header size points past the end, the header is not valid JSON of the shape
// above, a dtype is not F32/F64, or data_offsets disagree with shape x dtype size, overlap,
// leave gaps or exceed the data.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace fwp
