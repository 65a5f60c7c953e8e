#pragma once
// Per-request T3 state: one KvCache per layer, sized from the request (prefill length + max new
// tokens), plus the scratch buffers the forward pass reuses at every step. A T3Model is const and
// shared between requests; everything that changes during a request lives here.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/gpt2_block.h"
#include "ops/kv_cache.h"

namespace chatterd {

struct T3State {
  std::vector<ops::KvCache> caches;  // one per layer
  layers::Gpt2BlockScratch gpt2;     // block scratch (GPT-2 backbone)
  Tensor x;                          // [T, d] residual stream of the current call
  Tensor positions;                  // i64 [T] absolute positions of the current call
  Tensor pos_emb;                    // [T, d]
  Tensor last;                       // [1, d] last row before the final norm
  Tensor hidden;                     // [1, d] final-norm hidden state of the last position
  Tensor logits;                     // [1, V] speech_head(hidden)
  Tensor embeds;                     // [T, d] input embeddings being assembled
  Tensor part;                       // [n, d] a piece of them
  Tensor ids;                        // i64 [n] ids being embedded

  // Tokens in the cache (= the absolute position of the next input row).
  std::int64_t length() const { return caches.empty() ? 0 : caches.front().length(); }
};

}  // namespace chatterd
