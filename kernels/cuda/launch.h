// Launch shapes shared by the element and row kernels of kernels/cuda/ (only for .cu files).
//   Element kernels: a grid-stride loop over n, kThreads threads per block, at most 4096 blocks.
//   Row kernels: one warp per row of a (rows, cols) array, kRowWarps warps per block; the lanes
//   stride over the row's columns and combine their partial results with warp shuffles
//   (warp_rows.h), so no shared memory and no barrier is needed.
#pragma once
#include <cstdint>

namespace fwp::kernels::cuda_launch {

constexpr int kThreads = 256;
constexpr int kRowWarps = 4;

inline int blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

inline int row_blocks_for(int64_t rows) {
  const int64_t b = (rows + kRowWarps - 1) / kRowWarps;
  return static_cast<int>(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

// This thread's first flat index and the grid's stride, for element kernels.
__device__ __forceinline__ int64_t first_index() {
  return blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// This warp's first row and the grid's stride in rows, for row kernels (blockDim.x = 32 kRowWarps).
__device__ __forceinline__ int64_t first_row() {
  return blockIdx.x * int64_t(kRowWarps) + threadIdx.x / 32;
}
__device__ __forceinline__ int64_t row_stride() { return int64_t(gridDim.x) * kRowWarps; }

}  // namespace fwp::kernels::cuda_launch
