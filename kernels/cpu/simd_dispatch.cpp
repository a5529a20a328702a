// The public SIMD kernels: each forwards to the per-instruction-set copy chosen for this CPU
// (kernels/cpu/simd.h, simd_isa.h). This file is compiled once, for the baseline target; the
// copies are compiled by kernels/CMakeLists.txt with -DFWP_SIMD_ISA=<name> and the flags of
// their instruction set, and declared here by including simd_kernels.h once per name.
#include <atomic>
#include <cstdlib>

#include "core/error.h"  // header only: kernels link nothing above them

#include "kernels/cpu/simd_isa.h"
#include "kernels/delta_rule.h"
#include "kernels/fwm_rule.h"
#include "kernels/gated_delta_rule.h"
#include "kernels/sum_rule.h"

#if defined(__x86_64__) || defined(_M_X64)
#define FWP_SIMD_X86 1
#define FWP_SIMD_ISA sse2
#include "kernels/cpu/simd_kernels.h"
#undef FWP_SIMD_ISA
#define FWP_SIMD_ISA avx2
#include "kernels/cpu/simd_kernels.h"
#undef FWP_SIMD_ISA
#define FWP_SIMD_ISA avx512
#include "kernels/cpu/simd_kernels.h"
#undef FWP_SIMD_ISA
#elif defined(__aarch64__)
#define FWP_SIMD_ISA neon
#include "kernels/cpu/simd_kernels.h"
#undef FWP_SIMD_ISA
#else
#define FWP_SIMD_ISA generic
#include "kernels/cpu/simd_kernels.h"
#undef FWP_SIMD_ISA
#endif

namespace fwp::kernels {

namespace {

bool cpu_runs(SimdIsa isa) {
#if defined(FWP_SIMD_X86)
  switch (isa) {
    case SimdIsa::sse2: return true;  // part of x86-64
    case SimdIsa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdIsa::avx512:  // the subsets the avx512 copy is compiled with (kernels/CMakeLists.txt)
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma");
    default: return false;
  }
#elif defined(__aarch64__)
  return isa == SimdIsa::neon;  // part of AArch64
#else
  return isa == SimdIsa::generic;
#endif
}

// Initialised on first use from FWP_SIMD. If that throws, the next use tries again (and throws
// again): a bad FWP_SIMD fails every kernel call, never runs another copy silently.
std::atomic<SimdIsa>& active() {
  static std::atomic<SimdIsa> isa{simd_isa_for_environment(std::getenv("FWP_SIMD"))};
  return isa;
}

}  // namespace

const char* simd_isa_name(SimdIsa isa) {
  switch (isa) {
    case SimdIsa::sse2: return "sse2";
    case SimdIsa::avx2: return "avx2";
    case SimdIsa::avx512: return "avx512";
    case SimdIsa::neon: return "neon";
    case SimdIsa::generic: return "generic";
  }
  return "?";
}

int simd_vector_bytes(SimdIsa isa) {
  switch (isa) {
    case SimdIsa::avx512: return 64;
    case SimdIsa::avx2: return 32;
    default: return 16;
  }
}

std::vector<SimdIsa> compiled_simd_isas() {
#if defined(FWP_SIMD_X86)
  return {SimdIsa::sse2, SimdIsa::avx2, SimdIsa::avx512};
#elif defined(__aarch64__)
  return {SimdIsa::neon};
#else
  return {SimdIsa::generic};
#endif
}

std::vector<SimdIsa> runnable_simd_isas() {
  std::vector<SimdIsa> out;
  for (SimdIsa isa : compiled_simd_isas())
    if (cpu_runs(isa)) out.push_back(isa);
  return out;
}

SimdIsa active_simd_isa() { return active().load(std::memory_order_relaxed); }

bool set_simd_isa(SimdIsa isa) {
  for (SimdIsa r : runnable_simd_isas())
    if (r == isa) {
      active().store(isa, std::memory_order_relaxed);
      return true;
    }
  return false;
}

bool parse_simd_isa(const std::string& name, SimdIsa* isa) {
  for (SimdIsa c : {SimdIsa::generic, SimdIsa::sse2, SimdIsa::neon, SimdIsa::avx2, SimdIsa::avx512})
    if (name == simd_isa_name(c)) {
      *isa = c;
      return true;
    }
  return false;
}

SimdIsa simd_isa_for_environment(const char* value) {
  const std::vector<SimdIsa> runnable = runnable_simd_isas();
  if (value == nullptr || *value == '\0') return runnable.back();
  SimdIsa isa = SimdIsa::generic;
  if (parse_simd_isa(value, &isa))
    for (SimdIsa r : runnable)
      if (r == isa) return isa;
  std::string names;
  for (SimdIsa r : runnable) names += std::string(names.empty() ? "" : ", ") + simd_isa_name(r);
  throw Error(cat("FWP_SIMD=", value, ": not a SIMD copy that this build and CPU can run (",
                  names, ")"));
}

std::string simd_description() {
  const SimdIsa isa = active_simd_isa();
  return std::string(simd_isa_name(isa)) + " (" + std::to_string(simd_vector_bytes(isa)) +
         "-byte vectors)";
}

// FWP_SIMD_CALL(f, args...): return the active copy's f(args...).
#if defined(FWP_SIMD_X86)
#define FWP_SIMD_CALL(f, ...)                                  \
  switch (active_simd_isa()) {                                 \
    case SimdIsa::avx512: return avx512::f(__VA_ARGS__);       \
    case SimdIsa::avx2: return avx2::f(__VA_ARGS__);           \
    default: return sse2::f(__VA_ARGS__);                      \
  }
#elif defined(__aarch64__)
#define FWP_SIMD_CALL(f, ...) return neon::f(__VA_ARGS__);
#else
#define FWP_SIMD_CALL(f, ...) return generic::f(__VA_ARGS__);
#endif

template <typename Real>
int64_t delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv) {
  FWP_SIMD_CALL(delta_rule_workspace_size<Real>, BH, Dk, Dv)
}
template <typename Real>
void delta_rule_forward_cpu(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                            const Real* v, const Real* beta, const Real* W0, int64_t BH,
                            int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  FWP_SIMD_CALL(delta_rule_forward_cpu<Real>, y, WT, d, q, k, v, beta, W0, BH, T, Dk, Dv,
                workspace)
}
template <typename Real>
void delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                             const Real* grad_y, const Real* grad_WT, const Real* q,
                             const Real* k, const Real* beta, const Real* d, const Real* WT,
                             int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  FWP_SIMD_CALL(delta_rule_backward_cpu<Real>, dq, dk, dv, dbeta, dW0, grad_y, grad_WT, q, k,
                beta, d, WT, BH, T, Dk, Dv, workspace)
}

template <typename Real>
int64_t sum_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv) {
  FWP_SIMD_CALL(sum_rule_workspace_size<Real>, BH, Dk, Dv)
}
template <typename Real>
void sum_rule_forward_cpu(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                          const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  FWP_SIMD_CALL(sum_rule_forward_cpu<Real>, y, WT, zT, den, q, k, v, W0, z0, normalize, eps, BH,
                T, Dk, Dv, workspace)
}
template <typename Real>
void sum_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                           const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                           const Real* q, const Real* k, const Real* v, const Real* W0,
                           const Real* z0, const Real* y, const Real* den, bool normalize,
                           int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  FWP_SIMD_CALL(sum_rule_backward_cpu<Real>, dq, dk, dv, dW0, dz0, grad_y, grad_WT, grad_zT, q, k,
                v, W0, z0, y, den, normalize, BH, T, Dk, Dv, workspace)
}

template <typename Real>
int64_t fwm_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C) {
  FWP_SIMD_CALL(fwm_rule_workspace_size<Real>, BH, Dk, Dv, C)
}
template <typename Real>
void fwm_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q, const Real* k,
                          const Real* v, const Real* beta, const Real* W0, bool clamp_first_step,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                          Real* workspace) {
  FWP_SIMD_CALL(fwm_rule_forward_cpu<Real>, y, WT, checkpoints, q, k, v, beta, W0,
                clamp_first_step, BH, T, Dk, Dv, C, workspace)
}
template <typename Real>
void fwm_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                           const Real* grad_y, const Real* grad_WT, const Real* q, const Real* k,
                           const Real* v, const Real* beta, const Real* checkpoints,
                           bool clamp_first_step, int64_t BH, int64_t T, int64_t Dk, int64_t Dv,
                           int64_t C, Real* workspace) {
  FWP_SIMD_CALL(fwm_rule_backward_cpu<Real>, dq, dk, dv, dbeta, dW0, grad_y, grad_WT, q, k, v,
                beta, checkpoints, clamp_first_step, BH, T, Dk, Dv, C, workspace)
}

template <typename Real>
int64_t gated_delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C) {
  FWP_SIMD_CALL(gated_delta_rule_workspace_size<Real>, BH, Dk, Dv, C)
}
template <typename Real>
void gated_delta_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q,
                                  const Real* k, const Real* v, const Real* beta,
                                  const Real* alpha, const Real* W0, int64_t BH, int64_t T,
                                  int64_t Dk, int64_t Dv, int64_t C, Real* workspace) {
  FWP_SIMD_CALL(gated_delta_rule_forward_cpu<Real>, y, WT, checkpoints, q, k, v, beta, alpha, W0,
                BH, T, Dk, Dv, C, workspace)
}
template <typename Real>
void gated_delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                   Real* dW0, const Real* grad_y, const Real* grad_WT,
                                   const Real* q, const Real* k, const Real* v, const Real* beta,
                                   const Real* alpha, const Real* checkpoints, int64_t BH,
                                   int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   Real* workspace) {
  FWP_SIMD_CALL(gated_delta_rule_backward_cpu<Real>, dq, dk, dv, dbeta, dalpha, dW0, grad_y,
                grad_WT, q, k, v, beta, alpha, checkpoints, BH, T, Dk, Dv, C, workspace)
}

template <typename Real>
int64_t delta_chunk_workspace_size(int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   ChunkGemm gemm) {
  FWP_SIMD_CALL(delta_chunk_workspace_size<Real>, BH, T, Dk, Dv, C, gemm)
}
template <typename Real>
void delta_chunk_forward_cpu(Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                             const Real* v, const Real* beta, const Real* W0, int64_t BH,
                             int64_t T, int64_t Dk, int64_t Dv, int64_t C, Real* workspace,
                             ChunkGemm gemm) {
  FWP_SIMD_CALL(delta_chunk_forward_cpu<Real>, y, WT, u, q, k, v, beta, W0, BH, T, Dk, Dv, C,
                workspace, gemm)
}
template <typename Real>
void delta_chunk_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                              const Real* grad_y, const Real* grad_WT, const Real* q,
                              const Real* k, const Real* v, const Real* beta, const Real* saved,
                              Saved kind, const Real* WT, int64_t BH, int64_t T, int64_t Dk,
                              int64_t Dv, int64_t C, Real* workspace, ChunkGemm gemm) {
  FWP_SIMD_CALL(delta_chunk_backward_cpu<Real>, dq, dk, dv, dbeta, dW0, grad_y, grad_WT, q, k, v,
                beta, saved, kind, WT, BH, T, Dk, Dv, C, workspace, gemm)
}

template <typename Real>
int64_t softmax_attention_workspace_size(int64_t BH, int64_t T, int64_t S, int64_t Dk,
                                         int64_t Dv) {
  FWP_SIMD_CALL(softmax_attention_workspace_size<Real>, BH, T, S, Dk, Dv)
}
template <typename Real>
void softmax_attention_forward_cpu(Real* y, Real* lse, const Real* q, const Real* k, const Real* v,
                                   const AttentionMask<Real>& mask, Real scale, int64_t BH,
                                   int64_t T, int64_t S, int64_t Dk, int64_t Dv, Real* workspace) {
  FWP_SIMD_CALL(softmax_attention_forward_cpu<Real>, y, lse, q, k, v, mask, scale, BH, T, S, Dk,
                Dv, workspace)
}
template <typename Real>
void softmax_attention_backward_cpu(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                    const Real* q, const Real* k, const Real* v, const Real* y,
                                    const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                    int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                    Real* workspace) {
  FWP_SIMD_CALL(softmax_attention_backward_cpu<Real>, dq, dk, dv, grad_y, q, k, v, y, lse, mask,
                scale, BH, T, S, Dk, Dv, workspace)
}

template <typename Real>
void small_gemm(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs, const Real* B,
                int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha, bool accumulate,
                Tri a_tri, bool lower_out) {
  FWP_SIMD_CALL(small_gemm<Real>, C, ldc, A, a_rs, a_cs, B, ldb, M, N, K, alpha, accumulate,
                a_tri, lower_out)
}

double fma_peak_gflops(double seconds) { FWP_SIMD_CALL(fma_peak_gflops, seconds) }

#define FWP_INSTANTIATE(R)                                                                       \
  template int64_t delta_rule_workspace_size<R>(int64_t, int64_t, int64_t);                    \
  template void delta_rule_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*, const R*,  \
                                          const R*, int64_t, int64_t, int64_t, int64_t, R*);   \
  template void delta_rule_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,   \
                                           const R*, const R*, const R*, const R*, int64_t,    \
                                           int64_t, int64_t, int64_t, R*);                     \
  template int64_t sum_rule_workspace_size<R>(int64_t, int64_t, int64_t);                      \
  template void sum_rule_forward_cpu<R>(R*, R*, R*, R*, const R*, const R*, const R*,          \
                                        const R*, const R*, bool, R, int64_t, int64_t,         \
                                        int64_t, int64_t, R*);                                 \
  template void sum_rule_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,     \
                                         const R*, const R*, const R*, const R*, const R*,     \
                                         const R*, const R*, bool, int64_t, int64_t, int64_t,  \
                                         int64_t, R*);                                         \
  template int64_t fwm_rule_workspace_size<R>(int64_t, int64_t, int64_t, int64_t);             \
  template void fwm_rule_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*, const R*,    \
                                        const R*, bool, int64_t, int64_t, int64_t, int64_t,    \
                                        int64_t, R*);                                          \
  template void fwm_rule_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,     \
                                         const R*, const R*, const R*, const R*, bool,         \
                                         int64_t, int64_t, int64_t, int64_t, int64_t, R*);     \
  template int64_t gated_delta_rule_workspace_size<R>(int64_t, int64_t, int64_t, int64_t);     \
  template void gated_delta_rule_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*,      \
                                                const R*, const R*, const R*, int64_t,         \
                                                int64_t, int64_t, int64_t, int64_t, R*);       \
  template void gated_delta_rule_backward_cpu<R>(R*, R*, R*, R*, R*, R*, const R*, const R*,   \
                                                 const R*, const R*, const R*, const R*,       \
                                                 const R*, const R*, int64_t, int64_t,         \
                                                 int64_t, int64_t, int64_t, R*);               \
  template int64_t delta_chunk_workspace_size<R>(int64_t, int64_t, int64_t, int64_t, int64_t,  \
                                                 ChunkGemm);                                   \
  template void delta_chunk_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*, const R*, \
                                           const R*, int64_t, int64_t, int64_t, int64_t,       \
                                           int64_t, R*, ChunkGemm);                            \
  template void delta_chunk_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,  \
                                            const R*, const R*, const R*, const R*, Saved,     \
                                            const R*, int64_t, int64_t, int64_t, int64_t,      \
                                            int64_t, R*, ChunkGemm);                           \
  template int64_t softmax_attention_workspace_size<R>(int64_t, int64_t, int64_t, int64_t,     \
                                                       int64_t);                               \
  template void softmax_attention_forward_cpu<R>(R*, R*, const R*, const R*, const R*,         \
                                                 const AttentionMask<R>&, R, int64_t, int64_t, \
                                                 int64_t, int64_t, int64_t, R*);               \
  template void softmax_attention_backward_cpu<R>(R*, R*, R*, const R*, const R*, const R*,    \
                                                  const R*, const R*, const R*,                \
                                                  const AttentionMask<R>&, R, int64_t,         \
                                                  int64_t, int64_t, int64_t, int64_t, R*);     \
  template void small_gemm<R>(R*, int64_t, const R*, int64_t, int64_t, const R*, int64_t,      \
                              int64_t, int64_t, int64_t, R, bool, Tri, bool);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
