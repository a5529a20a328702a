// Embedding: the module owns the table; the lookup and its scatter-add backward are the
// autograd function `embedding`.
#include "layers/embedding.h"

#include "autograd/functions.h"

namespace fwp {

Embedding::Embedding(int64_t V, int64_t D, Rng& rng, EmbeddingOptions options)
    : num_embeddings(V), embedding_dim(D) {
  FWP_CHECK(V > 0 && D > 0, "Embedding: sizes must be positive, got num_embeddings=", V,
            " embedding_dim=", D);
  FWP_CHECK(options.init_std >= 0.0, "Embedding: init_std must be >= 0, got ", options.init_std);
  weight = register_parameter(
      "weight", Tensor::randn({V, D}, rng, options.dtype, 0.0, options.init_std), ParamInit::weight);
}

Variable Embedding::forward(const Indices& ids) const { return embedding(weight, ids); }

}  // namespace fwp
