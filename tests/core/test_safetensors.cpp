// safetensors: exact round trips, the byte layout, every kind of corrupt file rejected with a
// message naming the file and the tensor, and atomic writes (a failing write keeps the old file).
#include "tests/catch.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/safetensors.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

namespace {

// A fresh empty folder per test case, removed at the end.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / cat("fwp_test_st_", tag, "_", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file with the given header text, header size field and `data_bytes` zero bytes of data.
std::string raw_file(const std::string& header, uint64_t data_bytes, int64_t size_field = -1) {
  uint64_t n = size_field < 0 ? header.size() : static_cast<uint64_t>(size_field);
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &n, 8);
  return bytes + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("safetensors round trip is exact for f32 and f64 with metadata", "[core][safetensors]") {
  TempDir tmp("roundtrip");
  Rng rng(3);
  std::map<std::string, Tensor> tensors = {
      {"layers.0.weight", Tensor::randn({3, 5}, rng, DType::f32)},
      {"layers.0.bias", Tensor::randn({5}, rng, DType::f64)},
      {"scalar", Tensor::scalar(-2.5, DType::f64)},
      {"empty", Tensor::zeros({0, 4})},
  };
  std::map<std::string, std::string> meta = {{"config", R"({"d_model": 64})"}, {"note", "x"}};
  const std::string path = tmp.file("ckpt.safetensors");
  save_safetensors(path, tensors, meta);
  SafetensorsContents back = load_safetensors(path);
  CHECK(back.metadata == meta);
  REQUIRE(back.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    REQUIRE(back.tensors.count(name) == 1);
    const Tensor& b = back.tensors.at(name);
    CHECK(b.dtype() == t.dtype());
    CHECK_THAT(b, AllClose(t, 0, 0));
  }
  // layout: 8-byte little-endian size, JSON padded to a multiple of 8, then 4*15 + 8*5 + 8 bytes
  const std::string bytes = read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 4 * 15 + 8 * 5 + 8);
  const std::string header = bytes.substr(8, n);
  CHECK(header.front() == '{');
  CHECK_THAT(header, HasSubstr(R"("layers.0.weight":{"data_offsets":)") &&
                         HasSubstr(R"("dtype":"F32","shape":[3,5]})") &&
                         HasSubstr(R"("dtype":"F64")") && HasSubstr("__metadata__"));
}

TEST_CASE("safetensors rejects corrupt files naming the file and the tensor", "[core][safetensors][errors]") {
  TempDir tmp("corrupt");
  const std::string path = tmp.file("bad.safetensors");
  auto rejects = [&](const std::string& bytes, const std::string& expected) {
    write_bytes(path, bytes);
    INFO("expected message: " << expected);
    CHECK_THROWS_WITH(load_safetensors(path), HasSubstr(path) && HasSubstr(expected));
  };
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})";
  write_bytes(path, raw_file(ok, 24));
  CHECK(load_safetensors(path).tensors.at("w").shape() == Shape{2, 3});  // the base case loads

  rejects(std::string(5, '\0'), "truncated: 5 bytes");
  rejects(raw_file(ok, 24, 1000), "header size 1000 exceeds the file");
  rejects(raw_file(ok, 10), "tensor 'w': data_offsets [0, 24] exceed the data section (10 bytes");
  rejects(raw_file(R"({"w":{"dtype":"F32",)", 0), "malformed JSON header");
  rejects(raw_file("[1, 2]", 0), "the header must be a JSON object");
  rejects(raw_file(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}})", 12),
          "tensor 'w': unsupported dtype 'BF16'");
  rejects(raw_file(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
          "tensor 'w': data_offsets [0, 20] do not match shape (2, 3) of F32 (24 bytes)");
  rejects(raw_file(R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,24]}})", 24),
          "tensor 'w': shape must hold non-negative integers");
  rejects(raw_file(R"({"w":{"dtype":"F32","shape":[2,3]}})", 24),
          "tensor 'w': 'data_offsets' must be two non-negative integers");
  rejects(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
          "tensor 'b': data_offsets [4, 12] overlap the previous tensor");
  rejects(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})", 20),
          "tensor 'b': data_offsets [12, 20] leave a gap after byte 8");
  rejects(raw_file(ok, 30), "the data section has 30 bytes but the tensors cover only 24");
  rejects(raw_file(R"({"__metadata__":{"k":3}})", 0), "__metadata__ value 'k' is not a string");
  CHECK_THROWS_WITH(load_safetensors(tmp.file("missing.safetensors")),
                    HasSubstr("missing.safetensors") && HasSubstr("cannot open"));
}

TEST_CASE("safetensors writes atomically: a failing write keeps the old file", "[core][safetensors]") {
  TempDir tmp("atomic");
  const std::string path = tmp.file("model.safetensors");
  Rng rng(4);
  Tensor old_w = Tensor::randn({4, 4}, rng);
  save_safetensors(path, {{"w", old_w}});
  const std::string old_bytes = read_bytes(path);

  // Make writes beyond 4 KiB fail with EFBIG (the signal that would kill us is ignored), then
  // try to overwrite the file with a 400 KB tensor.
  struct rlimit saved;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  std::string message;
  try {
    save_safetensors(path, {{"w", Tensor::randn({100, 1000}, rng)}});
  } catch (const Error& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);

  CHECK(threw);
  CHECK_THAT(message, HasSubstr(path) && HasSubstr("writing failed"));
  CHECK(read_bytes(path) == old_bytes);
  CHECK_THAT(load_safetensors(path).tensors.at("w"), AllClose(old_w, 0, 0));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(tmp.dir)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);  // the temporary file was removed

  CHECK_THROWS_WITH(save_safetensors(tmp.file("no/such/dir/x.safetensors"), {{"w", old_w}}),
                    HasSubstr("no/such/dir/x.safetensors") && HasSubstr("cannot create"));
  CHECK_THROWS_WITH(save_safetensors(path, {{"__metadata__", old_w}}), HasSubstr("invalid tensor name"));
}
