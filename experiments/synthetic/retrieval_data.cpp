// Sequence sampling for the two retrieval settings.
#include "experiments/synthetic/retrieval_data.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace fwp::synthetic {

RetrievalTask::RetrievalTask(int setting, int64_t S) : setting_(setting), S_(S) {
  FWP_CHECK(setting == 1 || setting == 2, "RetrievalTask: setting must be 1 or 2, got ", setting);
  FWP_CHECK(S >= 2, "RetrievalTask: S must be at least 2, got ", S);
}

void RetrievalTask::draw_sequence(int64_t L, Rng& rng, std::vector<int64_t>& keys,
                                  std::vector<int64_t>& values) const {
  if (setting_ == 1) {
    FWP_CHECK(L <= S_, "RetrievalTask: setting 1 sequences cannot be longer than S=", S_,
              ", got L=", L);
    keys = rng.permutation(S_);
    values = rng.permutation(S_);
    keys.resize(L);
    values.resize(L);
  } else {
    keys.resize(L);
    values.resize(L);
    for (int64_t t = 0; t < L; ++t) keys[t] = rng.randint(S_);
    for (int64_t t = 0; t < L; ++t) values[t] = rng.randint(S_);
  }
}

RetrievalBatch RetrievalTask::train_batch(int64_t B, Rng& rng) const {
  const int64_t L = train_length();
  std::vector<int64_t> keys, values, all_k, all_v, query(B), target(B);
  for (int64_t b = 0; b < B; ++b) {
    draw_sequence(L, rng, keys, values);
    int64_t q = keys[rng.randint(L)];
    int64_t last = L - 1;
    while (keys[last] != q) --last;  // the last occurrence holds the current value
    query[b] = q;
    target[b] = values[last];
    all_k.insert(all_k.end(), keys.begin(), keys.end());
    all_v.insert(all_v.end(), values.begin(), values.end());
  }
  return {Indices({B, L}, all_k), Indices({B, L}, all_v), Indices({B}, query),
          Indices({B}, target)};
}

std::vector<RetrievalBatch> RetrievalTask::eval_batches(int64_t length, int64_t B, Rng& rng,
                                                        int64_t max_queries) const {
  std::vector<int64_t> keys, values;
  draw_sequence(length, rng, keys, values);
  std::map<int64_t, int64_t> last_value;  // key -> value at its last occurrence, keys sorted
  for (int64_t t = 0; t < length; ++t) last_value[keys[t]] = values[t];
  std::vector<std::pair<int64_t, int64_t>> queries(last_value.begin(), last_value.end());
  if (static_cast<int64_t>(queries.size()) > max_queries) queries.resize(max_queries);
  std::vector<RetrievalBatch> batches;
  for (size_t start = 0; start < queries.size(); start += B) {
    const int64_t n = std::min<int64_t>(B, queries.size() - start);
    std::vector<int64_t> all_k, all_v, query, target;
    for (int64_t i = 0; i < n; ++i) {
      all_k.insert(all_k.end(), keys.begin(), keys.end());
      all_v.insert(all_v.end(), values.begin(), values.end());
      query.push_back(queries[start + i].first);
      target.push_back(queries[start + i].second);
    }
    batches.push_back({Indices({n, length}, all_k), Indices({n, length}, all_v),
                       Indices({n}, query), Indices({n}, target)});
  }
  return batches;
}

}  // namespace fwp::synthetic
