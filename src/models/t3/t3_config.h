#pragma once
// T3 (text -> speech tokens) hyper-parameters. Defaults are the real English checkpoint
// (t3_cfg.safetensors); T3Config::defaults(variant) gives every variant's real values
// (tests/fixtures/manifests/t3_*.json `hparams`).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "models/tensor_spec.h"
#include "models/variant.h"

namespace chatterd {

enum class T3Backbone {
  Gpt2,   // Turbo/Nano: LayerNorm, learned wpe, Conv1D (in, out) weights, gelu_new MLP
  Llama,  // English/Multilingual: RMSNorm, llama3-scaled RoPE, SiLU-gated MLP, no biases
};
std::string_view t3_backbone_name(T3Backbone backbone);

// Llama 3 RoPE frequency scaling (HF `_compute_llama3_parameters`).
struct RopeScaling {
  bool enabled = true;            // false: plain RoPE (rope_type "default")
  double factor = 8.0;            // low-frequency wavelengths are divided by it
  double low_freq_factor = 1.0;   // wavelength band edges, in units of
  double high_freq_factor = 4.0;  //   original_max_position_embeddings
  std::int64_t original_max_position_embeddings = 8192;  // context length the band edges refer to
};

// The conditioning Perceiver resampler (English/Multilingual).
struct PerceiverConfig {
  std::int64_t num_queries = 32;      // learned query tokens = conditioning tokens it outputs
  std::int64_t query_size = 1024;     // width of the learned queries
  std::int64_t embedding_dim = 1024;  // attention width (= T3 hidden size)
  std::int64_t num_heads = 4;         // attention heads (head_dim = embedding_dim / num_heads)
  double norm_eps = 1e-5;             // LayerNorm epsilon (one LN shared by query and key/value)
};

// generate() defaults of the reference entry point.
struct T3GenerateDefaults {
  float temperature = 0.8f;            // logits divided by it (1 = off)
  std::int64_t top_k = 0;              // keep the k best logits (0 = off; turbo 1000)
  float top_p = 1.0f;                  // nucleus mass kept (1 = off; turbo 0.95)
  float min_p = 0.05f;                 // drop p < min_p * p_max (0 = off; turbo ignores it)
  float repetition_penalty = 1.2f;     // HF repetition penalty (1 = off)
  float cfg_weight = 0.5f;             // classifier-free guidance weight (0 = no CFG; turbo: none)
  float exaggeration = 0.5f;           // emotion_adv value fed to the conditioning
  std::int64_t max_new_tokens = 1000;  // speech tokens generated at most
};

struct T3Config {
  // Backbone.
  T3Backbone backbone = T3Backbone::Llama;        // transformer family
  std::int64_t hidden_size = 1024;                // model width d
  std::int64_t num_layers = 30;                   // transformer blocks
  std::int64_t num_heads = 16;                    // attention (query) heads
  std::int64_t head_dim = 64;                     // per-head width
  std::int64_t num_kv_heads = 16;                 // key/value heads (GQA when < num_heads)
  std::int64_t intermediate_size = 4096;          // MLP inner width
  double norm_eps = 1e-5;                         // RMSNorm (Llama) / LayerNorm (GPT-2) epsilon
  double rope_theta = 500000.0;                   // RoPE base (Llama only)
  RopeScaling rope_scaling;                       // Llama only
  std::int64_t max_position_embeddings = 131072;  // Llama: RoPE limit; GPT-2: rows of tfmr.wpe
  std::int64_t backbone_vocab_size = 8;           // rows of the backbone's own (dead) token table
  bool attn_bias = false;                         // q/k/v/o projections have biases (GPT-2: true)
  bool mlp_bias = false;                          // MLP projections have biases (GPT-2: true)

  // Vocabularies and special tokens.
  std::int64_t text_vocab_size = 704;      // rows of text_emb / text_head
  std::int64_t speech_vocab_size = 8194;   // rows of speech_emb / speech_head
  std::int64_t start_text_token = 255;     // SOT id (English/Multilingual wrap text with it)
  std::int64_t stop_text_token = 0;        // EOT id
  std::int64_t start_speech_token = 6561;  // BOS of the speech stream
  std::int64_t stop_speech_token = 6562;   // EOS of the speech stream
  std::int64_t max_text_tokens = 2048;     // text tokens accepted at most
  std::int64_t max_speech_tokens = 4096;   // speech tokens generated at most (model limit)

  // Learned position embeddings (English/Multilingual; GPT-2 uses tfmr.wpe instead).
  bool learned_pos_emb = true;              // input_pos_emb == "learned"
  std::int64_t text_pos_emb_rows = 2050;    // rows of text_pos_emb (max_text_tokens + 2)
  std::int64_t speech_pos_emb_rows = 4100;  // rows of speech_pos_emb (max_speech_tokens + 4)

  // Conditioning.
  std::int64_t speech_cond_prompt_len = 150;  // prompt speech tokens (turbo 375)
  std::int64_t speaker_embed_size = 256;      // VoiceEncoder embedding width fed to spkr_enc
  bool use_perceiver = true;                  // prompt goes through the Perceiver (32 tokens)
  PerceiverConfig perceiver;
  bool emotion_adv = true;       // one emotion token from emotion_adv_fc
  bool is_multilingual = false;  // multilingual tokenizer / language tags

  // Heads.
  bool speech_head_bias = false;  // speech_head has a bias (GPT-2 variants: true)
  bool text_head_bias = false;    // text_head has a bias (never in released models)

  T3GenerateDefaults generate;

  // The real checkpoint's values for `variant`.
  static T3Config defaults(Variant variant);
  // `base` overridden by the fields present in a manifest `hparams` / hparams.json `t3` object.
  // Throws ModelFormatError on wrong JSON types, unknown enum strings or an invalid result.
  static T3Config from_json(const nlohmann::json& j, const T3Config& base);

  // Every problem found (empty = valid).
  std::vector<std::string> validate() const;
  std::string to_string() const;
};

// The tensors of a T3 checkpoint, in state_dict order (CheckpointOnly ones included).
std::vector<TensorSpec> t3_tensor_specs(const T3Config& config);

}  // namespace chatterd
