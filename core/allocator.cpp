// The block cache behind cpu_alloc: a short list of free blocks, searched for an exact size.
// A training step repeats the same sizes every step, so exact matches are the common case; the
// list stays short (tens of entries), so a linear search costs nothing next to a 1 MB block.
#include "core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace fwp {

namespace {

struct FreeBlock {
  void* ptr;
  size_t bytes;
};

struct BlockCache {
  std::mutex mutex;
  std::vector<FreeBlock> blocks;  // in the order they were freed, oldest first
  size_t cached_bytes = 0;
  size_t limit = size_t(1) << 30;
  CpuAllocatorStats stats;
};

// Never destroyed: tensors in static storage may be freed after other statics are gone.
BlockCache& cache() {
  static BlockCache* c = new BlockCache();
  return *c;
}

std::atomic<bool>& fill_flag() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("FWP_FILL_UNINITIALIZED");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }()};
  return on;
}

// 0xFF bytes: all-ones exponent and mantissa, a quiet NaN as f32 and as f64.
void* filled(void* p, size_t bytes) {
  if (fill_flag().load(std::memory_order_relaxed)) std::memset(p, 0xFF, bytes);
  return p;
}

size_t rounded(size_t nbytes) {
  const size_t unit = nbytes >= kCacheMinBytes ? 4096 : 64;
  return nbytes == 0 ? 64 : (nbytes + unit - 1) / unit * unit;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  const size_t bytes = rounded(nbytes);
  if (bytes >= kCacheMinBytes) {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (size_t i = c.blocks.size(); i-- > 0;) {  // newest first: likeliest still in cache
      if (c.blocks[i].bytes != bytes) continue;
      void* p = c.blocks[i].ptr;
      c.cached_bytes -= bytes;
      c.blocks.erase(c.blocks.begin() + static_cast<std::ptrdiff_t>(i));
      ++c.stats.cache_hits;
      return filled(p, bytes);
    }
    ++c.stats.cache_misses;
  }
  void* p = std::aligned_alloc(64, bytes);
  FWP_CHECK(p != nullptr, "Storage: out of memory allocating ", nbytes, " bytes");
  return filled(p, bytes);
}

namespace {
// Removes the oldest blocks until the cache holds at most `limit` bytes; returns them to free.
std::vector<void*> evict_to(BlockCache& c, size_t limit) {
  std::vector<void*> evicted;
  size_t n = 0;
  while (c.cached_bytes > limit) {
    evicted.push_back(c.blocks[n].ptr);
    c.cached_bytes -= c.blocks[n].bytes;
    ++n;
  }
  c.blocks.erase(c.blocks.begin(), c.blocks.begin() + static_cast<std::ptrdiff_t>(n));
  return evicted;
}
}  // namespace

void cpu_free(void* ptr, size_t nbytes) {
  if (ptr == nullptr) return;
  const size_t bytes = rounded(nbytes);
  std::vector<void*> evicted;
  {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (bytes < kCacheMinBytes || bytes > c.limit) {
      evicted.push_back(ptr);
    } else {
      c.blocks.push_back({ptr, bytes});
      c.cached_bytes += bytes;
      evicted = evict_to(c, c.limit);
    }
  }
  for (void* p : evicted) std::free(p);
}

void cpu_allocator_set_cache_limit(size_t max_cached_bytes) {
  std::vector<void*> evicted;
  {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.limit = max_cached_bytes;
    evicted = evict_to(c, c.limit);
  }
  for (void* p : evicted) std::free(p);
}

void cpu_allocator_set_fill_uninitialized(bool on) { fill_flag().store(on); }
bool cpu_allocator_fill_uninitialized() { return fill_flag().load(); }

CpuAllocatorStats cpu_allocator_stats() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  CpuAllocatorStats s = c.stats;
  s.cached_bytes = c.cached_bytes;
  return s;
}

void cpu_allocator_release_cache() {
  std::vector<void*> evicted;
  {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    evicted = evict_to(c, 0);
  }
  for (void* p : evicted) std::free(p);
}

}  // namespace fwp
