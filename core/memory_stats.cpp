// The process-wide count of live tensor-storage bytes behind memory_stats() (core/tensor.h).
// Every Storage holds a LiveBytes member, so a block is counted from construction to destruction.
#include <atomic>

#include "core/tensor.h"

namespace fwp {

namespace {
std::atomic<int64_t> g_current_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};
}  // namespace

LiveBytes::LiveBytes(size_t n) : n_(static_cast<int64_t>(n)) {
  const int64_t now = g_current_bytes.fetch_add(n_) + n_;
  int64_t peak = g_peak_bytes.load();
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

LiveBytes::~LiveBytes() { g_current_bytes.fetch_sub(n_); }

MemoryStats memory_stats() { return {g_current_bytes.load(), g_peak_bytes.load()}; }

void reset_peak_memory() { g_peak_bytes.store(g_current_bytes.load()); }

}  // namespace fwp
