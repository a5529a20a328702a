// safetensors I/O. Writing: build the JSON header, pad it with spaces to a multiple of 8 bytes
// (as the reference implementation does, so the data section is aligned), write header and data
// to a temporary file beside the target, fsync, rename over the target. Reading: parse and check
// the whole header against the file size first, then read each tensor's bytes into a new tensor.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace fwp {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; fwp writes tensors' bytes as they are");

namespace {

using json = nlohmann::json;

const char* st_dtype_name(DType d) { return d == DType::f32 ? "F32" : "F64"; }

// ---------------------------------------------------------------- writing

std::string build_header(const std::string& path, const std::map<std::string, Tensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    FWP_CHECK(!name.empty() && name != "__metadata__", "save_safetensors: '", path,
              "': invalid tensor name '", name, "'");
    FWP_CHECK(t.defined(), "save_safetensors: '", path, "': tensor '", name, "' is undefined");
    header[name] = {{"dtype", st_dtype_name(t.dtype())},
                    {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw Error(cat("save_safetensors: '", path, "': cannot encode the header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// Writes all n bytes (write() may write fewer). Returns false with errno set on failure.
bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// ---------------------------------------------------------------- reading

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// The error prefix: every message names the file, and the tensor when there is one.
std::string where(const std::string& path, const std::string& tensor = "") {
  std::string s = cat("load_safetensors: '", path, "'");
  if (!tensor.empty()) s += cat(": tensor '", tensor, "'");
  return s;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& j) {
  const std::string at = where(path, name);
  FWP_CHECK(j.is_object(), at, ": header entry must be a JSON object, got ", j.dump());
  FWP_CHECK(j.contains("dtype") && j["dtype"].is_string(), at, ": missing string field 'dtype'");
  const std::string dt = j["dtype"].get<std::string>();
  FWP_CHECK(dt == "F32" || dt == "F64", at, ": unsupported dtype '", dt,
            "' (fwp reads F32 and F64)");
  Entry e{name, dt == "F32" ? DType::f32 : DType::f64, {}, 0, 0};
  FWP_CHECK(j.contains("shape") && j["shape"].is_array(), at, ": missing array field 'shape'");
  uint64_t numel = 1;
  for (const json& d : j["shape"]) {
    FWP_CHECK(d.is_number_unsigned(), at, ": shape must hold non-negative integers, got ",
              j["shape"].dump());
    const uint64_t s = d.get<uint64_t>();
    FWP_CHECK(s <= uint64_t(std::numeric_limits<int64_t>::max()) &&
                  (s == 0 || numel <= std::numeric_limits<uint64_t>::max() / 8 / s),
              at, ": shape ", j["shape"].dump(), " is too large");
    numel *= s;
    e.shape.push_back(static_cast<int64_t>(s));
  }
  const json& off = j.contains("data_offsets") ? j["data_offsets"] : json();
  FWP_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
                off[1].is_number_unsigned(),
            at, ": 'data_offsets' must be two non-negative integers, got ", off.dump());
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  const uint64_t need = numel * dtype_size(e.dtype);
  FWP_CHECK(e.begin <= e.end && e.end - e.begin == need, at, ": data_offsets [", e.begin, ", ",
            e.end, "] do not match shape ", e.shape, " of ", dt, " (", need, " bytes)");
  return e;
}

// Offsets must tile [0, data_size) exactly: in order, no overlap, no gap, nothing past the end.
void check_layout(const std::string& path, std::vector<Entry>& entries, uint64_t data_size) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (const Entry& e : entries) {
    FWP_CHECK(e.end <= data_size, where(path, e.name), ": data_offsets [", e.begin, ", ", e.end,
              "] exceed the data section (", data_size, " bytes; is the file truncated?)");
    FWP_CHECK(e.begin >= pos, where(path, e.name), ": data_offsets [", e.begin, ", ", e.end,
              "] overlap the previous tensor (which ends at ", pos, ")");
    FWP_CHECK(e.begin == pos, where(path, e.name), ": data_offsets [", e.begin, ", ", e.end,
              "] leave a gap after byte ", pos);
    pos = e.end;
  }
  FWP_CHECK(pos == data_size, where(path), ": the data section has ", data_size,
            " bytes but the tensors cover only ", pos);
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = build_header(path, tensors, metadata);
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = cat(parent_dir(path), "/.", path.substr(path.find_last_of('/') + 1),
                              ".tmp.", ::getpid(), ".", counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  FWP_CHECK(fd >= 0, "save_safetensors: '", path, "': cannot create the temporary file '", tmp,
            "': ", std::strerror(errno));
  int err = 0;  // the first errno of a failing call
  auto check = [&err](bool good) {
    if (!good && err == 0) err = errno != 0 ? errno : EIO;
  };
  const uint64_t n = header.size();  // little-endian host: these 8 bytes are the LE encoding
  check(write_all(fd, &n, 8) && write_all(fd, header.data(), header.size()));
  for (auto it = tensors.begin(); err == 0 && it != tensors.end(); ++it) {
    const Tensor host = it->second.to(Device::cpu);  // a GPU tensor is copied back first
    check(write_all(fd, host.raw_data(), host.nbytes()));
  }
  if (err == 0) check(::fsync(fd) == 0);
  check(::close(fd) == 0);
  if (err == 0) check(::rename(tmp.c_str(), path.c_str()) == 0);
  if (err != 0) {
    ::unlink(tmp.c_str());
    throw Error(cat("save_safetensors: '", path, "': writing failed (", std::strerror(err),
                    "); any previous file is unchanged"));
  }
  // Make the rename itself durable; failure here cannot corrupt either version, so it is ignored.
  int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

SafetensorsContents load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  FWP_CHECK(in, where(path), ": cannot open the file: ", std::strerror(errno));
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  FWP_CHECK(file_size >= 8, where(path), ": the file is truncated: ", file_size,
            " bytes, fewer than the 8-byte header size");
  in.seekg(0);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  FWP_CHECK(n <= file_size - 8, where(path), ": header size ", n, " exceeds the file (",
            file_size, " bytes; is the file truncated?)");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  FWP_CHECK(in, where(path), ": reading the header failed");
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {  // parse errors, and numbers out of range (1e400)
    throw Error(cat(where(path), ": malformed JSON header: ", e.what()));
  }
  FWP_CHECK(header.is_object(), where(path), ": the header must be a JSON object");

  SafetensorsContents out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      FWP_CHECK(value.is_object(), where(path), ": __metadata__ must be an object of strings");
      for (const auto& [k, v] : value.items()) {
        FWP_CHECK(v.is_string(), where(path), ": __metadata__ value '", k, "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, key, value));
  }
  const uint64_t data_start = 8 + n;
  check_layout(path, entries, file_size - data_start);

  for (const Entry& e : entries) {  // everything is valid: read the bytes
    Tensor t = Tensor::empty(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
    FWP_CHECK(in, where(path, e.name), ": reading the data failed");
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace fwp
