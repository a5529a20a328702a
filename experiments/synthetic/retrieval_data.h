// Associative retrieval data (docs/THEORY.md section 9.1). A sequence lists L (key, value) pairs,
// then one query key; the target is the value stored under it (its LAST occurrence if keys repeat).
//   Setting 1 (capacity):  L = S, keys a random permutation of all S keys, values an independent
//                          permutation of all S values.
//   Setting 2 (overwrite): L = 2S, keys and values drawn i.i.d. with replacement.
// Keys and values are indices in [0, S). Following the authors' code, evaluation sequences have
// length S in both settings and are queried with every distinct key they contain (at most 200,
// in increasing key order).
#pragma once
#include <cstdint>
#include <vector>

#include "core/indices.h"
#include "core/rng.h"

namespace fwp::synthetic {

struct RetrievalBatch {
  Indices keys;     // (B, L)
  Indices values;   // (B, L)
  Indices query;    // (B)
  Indices target;   // (B) value index stored under the query key
  int64_t batch() const { return query.numel(); }
  int64_t length() const { return keys.shape[1]; }
};

class RetrievalTask {
 public:
  RetrievalTask(int setting, int64_t S);
  int setting() const { return setting_; }
  int64_t num_keys() const { return S_; }
  int64_t train_length() const { return setting_ == 1 ? S_ : 2 * S_; }

  // A training batch: B fresh sequences, one random query each. For setting 2 the query is the
  // key at a uniformly random position (so frequent keys are asked more often, as in the
  // authors' sampler) and the target is the value at that key's last occurrence.
  RetrievalBatch train_batch(int64_t B, Rng& rng) const;

  // One evaluation sequence of the given length, repeated once per distinct key it contains
  // (at most max_queries, smallest keys first), split into batches of at most B rows.
  std::vector<RetrievalBatch> eval_batches(int64_t length, int64_t B, Rng& rng,
                                           int64_t max_queries = 200) const;

 private:
  // Draws one sequence of length L into keys/values (permutations or i.i.d. by setting).
  void draw_sequence(int64_t L, Rng& rng, std::vector<int64_t>& keys,
                     std::vector<int64_t>& values) const;
  int setting_;
  int64_t S_;
};

}  // namespace fwp::synthetic
