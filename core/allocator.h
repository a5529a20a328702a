// CPU memory for tensor storage: 64-byte aligned blocks, with large blocks recycled.
// Memory fresh from the OS costs a page fault and a zeroed page per 4 KB on first touch; for the
// tens of megabytes of logits, attention scores and their gradients that every training step
// allocates and frees again, that was a tenth of the step. Freed blocks of at least
// kCacheMinBytes therefore wait in a cache (1 GiB in all by default, oldest evicted first) for
// the next request of the same rounded size. Thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fwp {

constexpr size_t kCacheMinBytes = size_t(1) << 20;    // smaller blocks go straight to malloc

// Never returns null: throws fwp::Error when out of memory. cpu_free takes the same nbytes.
void* cpu_alloc(size_t nbytes);
void cpu_free(void* ptr, size_t nbytes);

struct CpuAllocatorStats {
  int64_t cache_hits = 0;     // allocations served from the cache
  int64_t cache_misses = 0;   // cacheable allocations that went to the OS
  size_t cached_bytes = 0;    // free bytes held in the cache now
};
CpuAllocatorStats cpu_allocator_stats();
void cpu_allocator_release_cache();  // returns every cached block to the OS
// Most free bytes the cache keeps (default 1 GiB; 0 disables it). Evicts down to it at once.
void cpu_allocator_set_cache_limit(size_t max_cached_bytes);

// A debugging aid, like PyTorch's fill_uninitialized_memory: while on, every block cpu_alloc
// returns (fresh or recycled) is filled with 0xFF bytes, a NaN in f32 and in f64, so a kernel
// that reads memory it never wrote produces NaN every time instead of whatever the block last
// held (zeros from the OS, or a recycled block's old values, which hide the bug until they are
// inf or NaN). Off by default; FWP_FILL_UNINITIALIZED=1 in the environment turns it on at
// start-up (=0 keeps it off). The test runner turns it on unless that variable is set
// (tests/main.cpp).
void cpu_allocator_set_fill_uninitialized(bool on);
bool cpu_allocator_fill_uninitialized();

}  // namespace fwp
