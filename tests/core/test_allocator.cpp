// The CPU block cache: large blocks are reused for the same size, small ones never cached,
// the byte limit evicts the oldest blocks, and recycled memory behaves like fresh memory.
#include "tests/catch.h"

#include <algorithm>
#include <cmath>

#include "core/allocator.h"

using namespace fwp;

TEST_CASE("cpu allocator reuses large blocks of the same size", "[core][allocator]") {
  cpu_allocator_release_cache();
  const size_t big = 3 * kCacheMinBytes + 100;
  void* a = cpu_alloc(big);
  CpuAllocatorStats s0 = cpu_allocator_stats();
  cpu_free(a, big);
  CHECK(cpu_allocator_stats().cached_bytes >= big);
  void* b = cpu_alloc(big);  // same rounded size: the same block comes back
  CHECK(b == a);
  CHECK(cpu_allocator_stats().cache_hits == s0.cache_hits + 1);
  void* c = cpu_alloc(2 * kCacheMinBytes);  // other size: a new block
  CHECK(cpu_allocator_stats().cache_misses == s0.cache_misses + 1);
  cpu_free(b, big);
  cpu_free(c, 2 * kCacheMinBytes);
  void* small = cpu_alloc(1000);  // small blocks bypass the cache
  CHECK(reinterpret_cast<uintptr_t>(small) % 64 == 0);
  cpu_free(small, 1000);
  CHECK(cpu_allocator_stats().cached_bytes == 3 * kCacheMinBytes + 4096 + 2 * kCacheMinBytes);
  cpu_allocator_release_cache();
  CHECK(cpu_allocator_stats().cached_bytes == 0);
}

TEST_CASE("cpu allocator cache limit evicts the oldest blocks", "[core][allocator]") {
  cpu_allocator_release_cache();
  cpu_allocator_set_cache_limit(3 * kCacheMinBytes);
  void* a = cpu_alloc(kCacheMinBytes);
  void* b = cpu_alloc(2 * kCacheMinBytes);
  void* c = cpu_alloc(kCacheMinBytes);
  cpu_free(a, kCacheMinBytes);
  cpu_free(b, 2 * kCacheMinBytes);
  CHECK(cpu_allocator_stats().cached_bytes == 3 * kCacheMinBytes);
  cpu_free(c, kCacheMinBytes);  // over the limit: a (the oldest) goes
  CHECK(cpu_allocator_stats().cached_bytes == 3 * kCacheMinBytes);
  CHECK(cpu_alloc(kCacheMinBytes) == c);
  cpu_free(c, kCacheMinBytes);
  cpu_allocator_set_cache_limit(0);  // disables the cache, releasing everything
  CHECK(cpu_allocator_stats().cached_bytes == 0);
  cpu_allocator_set_cache_limit(size_t(1) << 30);
}

TEST_CASE("recycled tensor storage holds new values", "[core][allocator]") {
  Rng rng(1);
  Tensor a = Tensor::randn({600, 1000}, rng);  // 2.4 MB: cached when freed
  a = Tensor();
  Tensor z = Tensor::zeros({600, 1000});
  auto v = z.to_vector();
  CHECK(std::count(v.begin(), v.end(), 0.0) == static_cast<int64_t>(v.size()));
}

TEST_CASE("fill_uninitialized makes fresh and recycled blocks NaN", "[core][allocator]") {
  const bool was = cpu_allocator_fill_uninitialized();
  cpu_allocator_set_fill_uninitialized(true);
  Rng rng(2);
  for (size_t bytes : {size_t(100), 3 * kCacheMinBytes}) {  // malloc'd and cached sizes
    Tensor a = Tensor::randn({int64_t(bytes / 4)}, rng);
    a = Tensor();  // the large block goes back to the cache with finite values in it
    for (DType dt : {DType::f32, DType::f64}) {
      auto v = Tensor::empty({int64_t(bytes / 8)}, dt).to_vector();
      INFO(bytes << " bytes, " << dtype_name(dt));
      CHECK(std::all_of(v.begin(), v.end(), [](double x) { return std::isnan(x); }));
    }
  }
  cpu_allocator_set_fill_uninitialized(was);
}
