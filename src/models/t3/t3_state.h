#pragma once
// Per-request T3 state: one KvCache per layer, sized from the request (prefill length + max new
// tokens), plus the scratch buffers the forward pass reuses at every step. A T3Model is const and
// shared between requests; everything that changes during a request lives here.
//
// Llama (English/Multilingual) with CFG runs `batch` = 2 sequences (row 0 conditional, row 1
// unconditional) at the same positions. Cache layout: caches[layer * batch + row], one KvCache per
// (layer, row); each decode step projects both rows together (M = 2) and attends per row.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/gpt2_block.h"
#include "layers/llama_block.h"
#include "models/t3/perceiver.h"
#include "ops/kv_cache.h"
#include "ops/rope.h"

namespace chatterd {

struct T3State {
  std::vector<ops::KvCache> caches;  // GPT-2: one per layer; Llama: [layer * batch + row]
  std::int64_t batch = 1;            // sequences run together (Llama CFG: 2)
  layers::Gpt2BlockScratch gpt2;     // block scratch (GPT-2 backbone)
  layers::LlamaBlockScratch llama;   // block scratch (Llama backbone)
  ops::RopeTable rope;               // Llama cos/sin, grown on demand
  PerceiverScratch perceiver;        // conditioning scratch (Llama variants)
  Tensor prompt;                     // [P, d] perceiver input
  Tensor x;                          // [batch * T, d] residual stream of the current call
  Tensor positions;                  // i64 [T] absolute positions of the current call
  Tensor pos_emb;                    // [T, d]
  Tensor last;                       // [batch, d] last row of each sequence before the final norm
  Tensor hidden;                     // [batch, d] final-norm hidden state of the last position
  Tensor logits;                     // [batch, V] speech_head(hidden)
  Tensor embeds;                     // [T, d] input embeddings being assembled
  Tensor part;                       // [n, d] a piece of them
  Tensor ids;                        // i64 [n] ids being embedded

  // Tokens in the cache (= the absolute position of the next input row).
  std::int64_t length() const { return caches.empty() ? 0 : caches.front().length(); }
};

// The key/value rows of a voice's conditioning prefix (GPT-2 T3: speaker embedding + prompt speech
// tokens, positions 0 .. length - 1), computed once per voice (T3Model::make_cond_prefix): every
// request with that voice starts from a copy instead of re-running those ~376 rows. Read-only,
// shared by concurrent requests.
struct T3CondPrefix {
  std::vector<ops::KvCache> caches;  // one per layer
  std::int64_t length = 0;
};

// Scratch of T3Model::forward_batch, owned by the batch scheduler and reused every step.
struct T3BatchScratch {
  layers::Gpt2BlockScratch gpt2;
  std::vector<ops::KvCache*> caches;  // one layer's caches, one per row
  Tensor positions;                   // i64 [B]
  Tensor pos_emb;                     // [B, d]
  Tensor x;                           // [B, d]
  Tensor hidden;                      // [B, d]
  Tensor logits;                      // [B, V]
};

}  // namespace chatterd
