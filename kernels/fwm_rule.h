// The fast weight memory (FWM) update rule (Schlag, Munkhdalai & Schmidhuber, ICLR 2021), as the
// synthetic code of Schlag, Irie & Schmidhuber (2021) runs it: one recurrence per sequence n in
// [0, BH). Per step t = 1..T, with W (Dv, Dk):
//   vbar_t = W_{t-1} k_t;   Wtilde_t = W_{t-1} + beta_t (v_t - vbar_t) k_t^T
//   W_t = Wtilde_t / max(1, |Wtilde_t|_F)   (the clamp; skipped at t = 1 unless clamp_first_step)
//   y_t = W_t q_t                            (optional: q may be null)
// The authors write W_1 = beta_1 v_1 k_1^T without the clamp: clamp_first_step = false.
// The backward must revisit W_{t-1} for t = T..1. Rebuilding it from W_t (W_{t-1} = n_t W_t -
// u_t k_t^T) multiplies every rounding error by n_t = |Wtilde_t|_F at each clamped step; with
// tanh keys (mean n_t 3.0) or DPFP-like relu-product keys (1.24) the clamp acts on almost every
// step, and rebuilding T = 400 steps loses every digit even in f64 (benchmarks/
// bench_favor_fwm.cpp --what drift). So the forward CHECKPOINTS the unscaled state every C steps
// and the backward re-runs each segment of C steps from its checkpoint with the forward's own
// code (bit-identical states), then walks the segment in reverse. Memory: ceil(T/C) states per
// sequence (the op takes C = ceil(sqrt(T)), fastest of those measured at T = 400) plus C + 1
// states per thread. The kernels flush denormals while they run (see fwm_rule_cpu.cpp).
// Outputs are overwritten. *_cpu: kernels/cpu/fwm_rule_cpu.cpp (OpenMP over BH); *_naive:
// kernels/cpu/fwm_rule_naive.cpp, plain loops that keep every W_t.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// Checkpoints per sequence: the states after steps 0, C, 2C, .. below T, i.e. ceil(T / C).
inline int64_t fwm_rule_checkpoints(int64_t T, int64_t C) { return (T + C - 1) / C; }

// Elements of scratch memory the *_cpu kernels need (one slice per OpenMP thread, 64-byte
// aligned; the caller allocates it). C is the checkpoint interval.
template <typename Real>
int64_t fwm_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C);

// y is (BH, T, Dv), written only when q is not null; WT is (BH, Dv, Dk) = W_T; checkpoints is
//   (BH, fwm_rule_checkpoints(T, C), Dk, Dv) or null (no backward will follow): the unclamped
//   state Wtilde (W_0 for the first), transposed. q (or null), k are (BH, T, Dk); v is
//   (BH, T, Dv); beta is (BH, T); W0 is (BH, Dv, Dk) or null for zeros. C >= 1.
template <typename Real>
void fwm_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q, const Real* k,
                          const Real* v, const Real* beta, const Real* W0, bool clamp_first_step,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                          Real* workspace);

template <typename Real>
void fwm_rule_forward_naive(Real* y, Real* WT, const Real* q, const Real* k, const Real* v,
                            const Real* beta, const Real* W0, bool clamp_first_step, int64_t BH,
                            int64_t T, int64_t Dk, int64_t Dv);

// dq (null when q is null), dk are (BH, T, Dk); dv is (BH, T, Dv); dbeta is (BH, T); dW0 is
// (BH, Dv, Dk) or null. grad_y is (BH, T, Dv), null when q is null; grad_WT is (BH, Dv, Dk) or
// null (no gradient on W_T). The rest as the forward got them, checkpoints as it wrote them.
template <typename Real>
void fwm_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                           const Real* grad_y, const Real* grad_WT, const Real* q, const Real* k,
                           const Real* v, const Real* beta, const Real* checkpoints,
                           bool clamp_first_step, int64_t BH, int64_t T, int64_t Dk, int64_t Dv,
                           int64_t C, Real* workspace);

// The same gradients from W0 instead of checkpoints (recomputes and keeps every W_t).
template <typename Real>
void fwm_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                             const Real* grad_y, const Real* grad_WT, const Real* q,
                             const Real* k, const Real* v, const Real* beta, const Real* W0,
                             bool clamp_first_step, int64_t BH, int64_t T, int64_t Dk,
                             int64_t Dv);

}  // namespace fwp::kernels
