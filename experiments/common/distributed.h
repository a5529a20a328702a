// Data-parallel training: one model trained by N processes (ranks), each on its own share of
// every global batch. After the backward, every parameter's gradient is replaced by the mean of
// the N ranks' gradients, so every rank takes the same optimiser step and the models stay equal
// (the scheme of Li et al., "PyTorch Distributed", VLDB 2020, and of llm.c).
//
// The transport is MPI (Open MPI from Debian), behind one small interface, Communicator: its
// allreduce_mean_start/wait pair is all the gradient averaging needs, so another transport (NCCL
// for CUDA tensors) is one more subclass, and nothing in layers/ or autograd/ knows about it.
//
// Why the 2-rank run follows the 1-process run: the training loss is a mean over the tokens of a
// batch, so when each of N ranks holds B / N of the B rows, the global gradient is the mean of the
// N ranks' gradients. Only the order of the floating-point additions differs: the 1-process run
// sums the rows inside its matrix products, the N-rank run sums each share's rows there and then
// the N partial means, (g_0 + g_1 + ...) / N. The sum over ranks is formed by MPI in one order
// that every rank receives identically (for 2 ranks it is g_0 + g_1, which is commutative and
// exact to round), and the division by N is a multiplication by 1 / N. The two runs therefore
// agree to rounding (~1e-7 relative per step), not bit for bit; the test asks 1e-5 after 20 steps.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"
#include "core/indices.h"

namespace fwp::experiments {

// A flat buffer of several parameters' gradients, averaged across ranks as one message.
struct GradientBucket {
  std::vector<Variable> params;  // consecutive in the order the backward completes them
  Tensor flat;                   // their gradients, one after the other (the params' dtype)
  int64_t pending = 0;           // parameters whose gradient is not final yet in this backward
  bool started = false;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }
  // Starts replacing bucket.flat by its mean over the ranks (in place); every rank starts the
  // same buckets in the same order. allreduce_mean_wait() returns once every started bucket is
  // done. poll() lets started messages make progress while the caller computes.
  virtual void allreduce_mean_start(GradientBucket& bucket) = 0;
  virtual void allreduce_mean_wait() = 0;
  virtual void poll() {}
  // Blocking helpers: the mean of one number over the ranks, and every rank's value of `x`.
  virtual double mean(double x) = 0;
  virtual std::vector<uint64_t> gather_all(uint64_t x) = 0;
  // Rank 0's `x`, on every rank (a decision only rank 0 can take, e.g. from a file it writes).
  virtual uint64_t broadcast(uint64_t x) = 0;
  // Ends the whole job (every rank) after a rank failed, so that no rank waits for it forever.
  [[noreturn]] virtual void abort(int code) = 0;
};

// The run's communicator: MPI when the program was started by mpirun (in a build with FWP_MPI),
// otherwise a single process (rank 0 of 1), for which every call above is a no-op.
Communicator& world();
// True when this build can run over MPI (FWP_MPI found Open MPI at configure time).
bool mpi_available();
// Shuts MPI down at the end of main (a no-op without MPI).
void finalize_world();
// What a training program does first under mpirun: joins the job (world()), gives each process
// its part of the cores when `threads` is not set (<= 0), and silences std::cout on every process
// but rank 0. Returns world(); for one process it changes nothing.
Communicator& join_processes(int& threads);
// The end of a program's main after an error: prints "PROGRAM: error (process R of N): what"
// to std::cerr, ends the other processes of the job (see below) and returns the exit status 1.
int report_error(const char* program, const std::exception& e);
// Runs a training program's body: shuts MPI down after it, and when it throws while other
// processes take part, reports the error (report_error) and ends the whole job; one process
// rethrows, for the program's own error handling (experiments::guarded_main).
template <typename Body>
int run_processes(const char* program, Body&& body) {
  try {
    const int status = body();
    finalize_world();
    return status;
  } catch (const std::exception& e) {
    if (world().size() > 1) return report_error(program, e);
    throw;
  }
}
// After an error in one of several processes: ends the whole job (MPI_Abort), so that the others
// do not wait for this one forever. Returns when this is the only process.
void abort_other_processes(int code);
// A stream that discards what is written to it: the log of the processes other than rank 0.
std::ostream& null_stream();
// " (process R of N)" under mpirun, "" for one process: for error messages.
std::string process_label();
// OpenMP threads per process when --threads is not given: the cores divided among the processes
// that mpirun started on this machine (at least 1).
int threads_per_process();

// Throws fwp::Error naming `what` and every rank's value if the ranks disagree on `value` (e.g.
// a hash of the run's configuration, or of the parameters after initialisation or --resume).
void check_same_on_all_ranks(const std::string& what, uint64_t value);
// FNV-1a over bytes, and over every parameter's values (in order): what check_same_on_all_ranks
// compares.
uint64_t hash_bytes(const void* data, size_t n, uint64_t h = 14695981039346656037ull);
uint64_t hash_parameters(const std::vector<Variable>& params);

// Whether a Ctrl-C (experiments::stop_requested) reached any of the processes: they all stop at
// the same step. One process: stop_requested().
bool stop_requested_anywhere();

// The rows [begin, end) of a global batch of `global_batch` rows that this rank trains on.
// Throws fwp::Error naming `option` when the batch does not divide by the number of ranks.
struct BatchShare {
  int64_t begin = 0, end = 0;
};
BatchShare batch_share(int64_t global_batch, const std::string& option);
// Those rows of a batch of ids (first dimension B): the ids themselves when they are all of them.
Indices share_rows(const Indices& batch, BatchShare share);

// Averages the gradients of `params` across the ranks during the backward: params are grouped
// into buckets of about `bucket_bytes` in reverse order (the backward reaches the last layers
// first), and a bucket's message starts as soon as the backward has finished every gradient in
// it, so communication overlaps the rest of the backward.
class GradientAverager {
 public:
  GradientAverager(Communicator& comm, const std::vector<Variable>& params,
                   int64_t bucket_bytes = int64_t(1) << 20);
  // backward(loss), then every parameter's gradient is the mean over the ranks (a parameter the
  // backward did not reach counts as a zero gradient; an undefined loss, as all zeros).
  void backward(const Variable& loss);
  // The mean over the ranks of this rank's loss (the global batch's loss).
  double mean(double x) { return comm_.mean(x); }
  const std::vector<GradientBucket>& buckets() const { return buckets_; }

 private:
  void start(GradientBucket& bucket);
  Communicator& comm_;
  std::vector<GradientBucket> buckets_;
  std::unordered_map<const VariableImpl*, GradientBucket*> bucket_of_;  // each parameter's bucket
};

}  // namespace fwp::experiments
