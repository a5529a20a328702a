// Data-parallel training over MPI (experiments/common/distributed.h): the communicator, the
// checks that every rank runs the same job, and the bucketed gradient averaging.
#include "experiments/common/distributed.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <unordered_map>

#include "autograd/tape.h"
#include "core/error.h"
#include "experiments/common/process.h"

#ifdef FWP_HAVE_MPI
#include <mpi.h>
#endif

namespace fwp::experiments {

namespace {

// The size mpirun announced to this process, 0 when it was not started by a launcher. Open MPI
// sets OMPI_COMM_WORLD_SIZE; PMI launchers (Slurm's srun, MPICH's hydra) set PMI_SIZE.
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;
}

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_mean_start(GradientBucket&) override {}
  void allreduce_mean_wait() override {}
  double mean(double x) override { return x; }
  std::vector<uint64_t> gather_all(uint64_t x) override { return {x}; }
  uint64_t broadcast(uint64_t x) override { return x; }
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

#ifdef FWP_HAVE_MPI
void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int n = 0;
  MPI_Error_string(code, text, &n);
  throw Error(cat("MPI: ", call, " failed: ", std::string(text, n)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int provided = 0;
    // FUNNELED: only the main thread calls MPI; OpenMP threads compute between the calls.
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_mean_start(GradientBucket& b) override {
    FWP_CHECK(b.flat.dtype() == DType::f32 || b.flat.dtype() == DType::f64,
              "allreduce_mean: gradients of dtype ", b.flat.dtype(), " are not supported");
    MPI_Request req;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.flat.raw_data(), static_cast<int>(b.flat.numel()),
                             b.flat.dtype() == DType::f32 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM,
                             MPI_COMM_WORLD, &req),
              "MPI_Iallreduce");
    requests_.push_back(req);
    started_.push_back(&b);
  }

  void allreduce_mean_wait() override {
    check_mpi(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(),
                          MPI_STATUSES_IGNORE),
              "MPI_Waitall");
    for (GradientBucket* b : started_) {
      if (b->flat.dtype() == DType::f32) {
        float* p = b->flat.data<float>();
        const float s = 1.0f / float(size_);
        for (int64_t i = 0; i < b->flat.numel(); ++i) p[i] *= s;
      } else {
        double* p = b->flat.data<double>();
        const double s = 1.0 / double(size_);
        for (int64_t i = 0; i < b->flat.numel(); ++i) p[i] *= s;
      }
    }
    requests_.clear();
    started_.clear();
  }

  void poll() override {  // Open MPI moves non-blocking collectives on only inside MPI calls
    if (requests_.empty()) return;
    int done = 0;
    MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
    if (done) requests_.clear();  // completed requests are MPI_REQUEST_NULL; wait() skips them
  }

  double mean(double x) override {
    double sum = 0.0;
    check_mpi(MPI_Allreduce(&x, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    return sum / double(size_);
  }

  std::vector<uint64_t> gather_all(uint64_t x) override {
    std::vector<uint64_t> all(size_);
    check_mpi(MPI_Allgather(&x, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD),
              "MPI_Allgather");
    return all;
  }

  uint64_t broadcast(uint64_t x) override {
    check_mpi(MPI_Bcast(&x, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
    return x;
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }

  void finalize() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

 private:
  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> requests_;
  std::vector<GradientBucket*> started_;
};
#endif

std::unique_ptr<Communicator>& world_ptr() {
  static std::unique_ptr<Communicator> w;
  return w;
}

}  // namespace

bool mpi_available() {
#ifdef FWP_HAVE_MPI
  return true;
#else
  return false;
#endif
}

Communicator& world() {
  std::unique_ptr<Communicator>& w = world_ptr();
  if (w) return *w;
  const int launched = launcher_size();
#ifdef FWP_HAVE_MPI
  if (launched > 0) {
    w = std::make_unique<MpiCommunicator>();
    return *w;
  }
#else
  FWP_CHECK(launched <= 1, "started by mpirun as one of ", launched,
            " processes, but this build has no MPI (install libopenmpi-dev and rebuild with "
            "-DFWP_MPI=ON): the processes would each train the whole model alone");
#endif
  w = std::make_unique<SingleProcess>();
  return *w;
}

void finalize_world() {
#ifdef FWP_HAVE_MPI
  if (auto* m = dynamic_cast<MpiCommunicator*>(world_ptr().get())) m->finalize();
#endif
}

void abort_other_processes(int code) {
  const std::unique_ptr<Communicator>& w = world_ptr();
  if (w && w->size() > 1) w->abort(code);
}

Communicator& join_processes(int& threads) {
  Communicator& comm = world();
  if (comm.size() > 1) {
    if (threads <= 0) threads = threads_per_process();
    if (!comm.is_root()) std::cout.setstate(std::ios::failbit);
  }
  return comm;
}

int report_error(const char* program, const std::exception& e) {
  std::cerr << program << ": error" << process_label() << ": " << e.what() << std::endl;
  abort_other_processes(1);  // under mpirun: end the job, so that no process waits forever
  return 1;
}

std::ostream& null_stream() {
  static std::ostream discard(nullptr);  // no buffer: every write fails quietly
  return discard;
}

std::string process_label() {
  const std::unique_ptr<Communicator>& w = world_ptr();
  return w && w->size() > 1 ? cat(" (process ", w->rank(), " of ", w->size(), ")") : std::string();
}

int threads_per_process() {
  int local = world().size();
  if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(v));
  return std::max(1, omp_get_num_procs() / local);
}

uint64_t hash_bytes(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t hash_parameters(const std::vector<Variable>& params) {
  uint64_t h = hash_bytes(nullptr, 0);
  for (const Variable& p : params) h = hash_bytes(p.value().raw_data(), p.value().nbytes(), h);
  return h;
}

void check_same_on_all_ranks(const std::string& what, uint64_t value) {
  Communicator& comm = world();
  const std::vector<uint64_t> all = comm.gather_all(value);
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    std::string list;
    for (size_t q = 0; q < all.size(); ++q) list += cat(q ? ", " : "", "rank ", q, ": ", all[q]);
    throw Error(cat("the ranks disagree on ", what, " (", list, "): every rank must run the same "
                    "command on the same data"));
  }
}

bool stop_requested_anywhere() {
  const bool here = stop_requested();
  Communicator& comm = world();
  return comm.size() > 1 ? comm.mean(here ? 1.0 : 0.0) > 0.0 : here;
}

BatchShare batch_share(int64_t global_batch, const std::string& option) {
  const int n = world().size(), r = world().rank();
  FWP_CHECK(global_batch % n == 0, option, " ", global_batch, " does not divide by the ", n,
            " processes: each process trains on an equal share of every batch");
  const int64_t share = global_batch / n;
  return {r * share, (r + 1) * share};
}

Indices share_rows(const Indices& batch, BatchShare share) {
  FWP_CHECK_SHAPE(batch.shape.size() >= 1 && share.begin >= 0 && share.begin <= share.end &&
                      share.end <= batch.shape[0],
                  "share_rows: rows [", share.begin, ", ", share.end, ") of a batch of shape ",
                  batch.shape);
  if (share.begin == 0 && share.end == batch.shape[0]) return batch;
  const int64_t row = batch.shape[0] > 0 ? batch.numel() / batch.shape[0] : 0;
  Shape shape = batch.shape;
  shape[0] = share.end - share.begin;
  return Indices(shape, std::vector<int64_t>(batch.values.begin() + share.begin * row,
                                             batch.values.begin() + share.end * row));
}

GradientAverager::GradientAverager(Communicator& comm, const std::vector<Variable>& params,
                                   int64_t bucket_bytes)
    : comm_(comm) {
  int64_t bytes = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    if (buckets_.empty() || bytes >= bucket_bytes ||
        buckets_.back().params.front().dtype() != it->dtype()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(*it);
    bytes += int64_t(it->value().nbytes());
  }
  for (GradientBucket& b : buckets_) {
    int64_t n = 0;
    for (const Variable& p : b.params) n += p.numel();
    b.flat = Tensor::empty({n}, b.params.front().dtype());
  }
  // pointers into buckets_, which no longer changes size
  for (GradientBucket& b : buckets_)
    for (const Variable& p : b.params) bucket_of_[p.impl().get()] = &b;
}

void GradientAverager::start(GradientBucket& b) {
  char* dst = static_cast<char*>(b.flat.raw_data());
  for (const Variable& p : b.params) {
    const size_t n = p.value().nbytes();
    if (p.has_grad()) {
      std::memcpy(dst, p.grad().raw_data(), n);
    } else {
      std::memset(dst, 0, n);  // not reached by this backward: contributes zero
    }
    dst += n;
  }
  b.started = true;
  comm_.allreduce_mean_start(b);
}

void GradientAverager::backward(const Variable& loss) {
  for (GradientBucket& b : buckets_) {
    b.pending = int64_t(b.params.size());
    b.started = false;
  }
  if (loss.defined()) {  // undefined: this process had no rows, its gradients are zero
    fwp::backward(loss, [&](const VariableImpl& leaf) {
      auto it = bucket_of_.find(&leaf);
      if (it == bucket_of_.end()) return;
      if (--it->second->pending == 0) start(*it->second);
      comm_.poll();
    });
  }
  // buckets with a parameter the walk did not reach, in bucket order (the same on every rank)
  for (GradientBucket& b : buckets_)
    if (!b.started) start(b);
  comm_.allreduce_mean_wait();
  for (GradientBucket& b : buckets_) {
    const char* src = static_cast<const char*>(b.flat.raw_data());
    for (const Variable& p : b.params) {
      Tensor g = Tensor::empty(p.shape(), p.dtype());
      std::memcpy(g.raw_data(), src, g.nbytes());
      p.impl()->grad = g;
      src += g.nbytes();
    }
  }
}

}  // namespace fwp::experiments
