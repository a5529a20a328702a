// Embedding: a lookup table. out[..., :] = weight[ids[...], :], weight is (V, D).
// The backward scatter-adds the upstream rows into the rows of weight that were looked up
// (autograd/functions.h: embedding). Default init N(0, 1), as torch.nn.Embedding.
#pragma once
#include "core/indices.h"
#include "layers/module.h"

namespace fwp {

struct EmbeddingOptions {
  double init_std = 1.0;  // weight ~ N(0, init_std^2)
  DType dtype = DType::f32;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Rng& rng, EmbeddingOptions options = {});
  // ids of any shape with values in [0, V); result ids.shape + (D).
  Variable forward(const Indices& ids) const;

  Variable weight;  // (V, D)
  int64_t num_embeddings, embedding_dim;
};

}  // namespace fwp
