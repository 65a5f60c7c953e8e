#include "models/t3/t3_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/json_fields.h"

namespace chatterd {

std::string_view t3_backbone_name(T3Backbone backbone) {
  switch (backbone) {
    case T3Backbone::Gpt2:
      return "gpt2";
    case T3Backbone::Llama:
      return "llama";
  }
  return "?";
}

T3Config T3Config::defaults(Variant variant) {
  T3Config c;  // English (Llama 520M)
  switch (variant) {
    case Variant::English:
      break;
    case Variant::MultilingualV2:
    case Variant::MultilingualV3:
      c.text_vocab_size = 2454;
      c.is_multilingual = true;
      break;
    case Variant::Turbo:
    case Variant::Nano: {
      const bool nano = variant == Variant::Nano;
      c.backbone = T3Backbone::Gpt2;
      c.hidden_size = nano ? 768 : 1024;
      c.num_layers = nano ? 12 : 24;
      c.num_heads = nano ? 12 : 16;
      c.head_dim = 64;
      c.num_kv_heads = c.num_heads;
      c.intermediate_size = 4 * c.hidden_size;
      c.norm_eps = 1e-5;
      c.rope_scaling.enabled = false;
      c.max_position_embeddings = 8196;
      c.backbone_vocab_size = 50276;
      c.attn_bias = true;
      c.mlp_bias = true;
      c.text_vocab_size = 50276;
      c.speech_vocab_size = 6563;
      c.learned_pos_emb = false;
      c.speech_cond_prompt_len = 375;
      c.use_perceiver = false;
      c.emotion_adv = false;
      c.speech_head_bias = true;
      c.generate.temperature = 0.8f;
      c.generate.top_k = 1000;
      c.generate.top_p = 0.95f;
      c.generate.min_p = 0.0f;
      c.generate.repetition_penalty = 1.2f;
      c.generate.cfg_weight = 0.0f;
      c.generate.exaggeration = 0.0f;
      c.generate.max_new_tokens = 1000;
      break;
    }
  }
  return c;
}

namespace {

T3Backbone parse_backbone(const json_fields::Reader& r, std::string_view key, T3Backbone keep) {
  std::string s;
  r.read(key, s);
  if (s.empty()) return keep;
  if (s == "gpt2") return T3Backbone::Gpt2;
  if (s == "llama") return T3Backbone::Llama;
  r.fail(key, fmt::format("unknown backbone '{}' (expected gpt2 or llama)", s));
}

}  // namespace

T3Config T3Config::from_json(const nlohmann::json& j, const T3Config& base) {
  T3Config c = base;
  const json_fields::Reader r(j, "t3");
  if (const auto* b = r.object("backbone")) {
    const auto br = r.child(*b, "backbone");
    c.backbone = parse_backbone(br, "backbone_type", c.backbone);
    br.read("hidden_size", c.hidden_size);
    br.read("num_layers", c.num_layers);
    br.read("num_heads", c.num_heads);
    br.read("head_dim", c.head_dim);
    br.read("num_kv_heads", c.num_kv_heads);
    br.read("intermediate_size", c.intermediate_size);
    br.read("norm_eps", c.norm_eps);
    br.read("rope_theta", c.rope_theta);
    br.read("max_position_embeddings", c.max_position_embeddings);
    br.read("backbone_vocab_size", c.backbone_vocab_size);
    br.read("attn_bias", c.attn_bias);
    br.read("attention_bias", c.attn_bias);
    br.read("mlp_bias", c.mlp_bias);
    if (c.backbone == T3Backbone::Gpt2) c.rope_scaling.enabled = false;
    if (const auto* rs = br.object("rope_scaling")) {
      const auto rr = br.child(*rs, "rope_scaling");
      std::string type = "llama3";
      rr.read("rope_type", type);
      if (type == "llama3") {
        c.rope_scaling.enabled = true;
      } else if (type == "default") {
        c.rope_scaling.enabled = false;
      } else {
        rr.fail("rope_type", fmt::format("unsupported rope scaling '{}' (expected llama3)", type));
      }
      rr.read("factor", c.rope_scaling.factor);
      rr.read("low_freq_factor", c.rope_scaling.low_freq_factor);
      rr.read("high_freq_factor", c.rope_scaling.high_freq_factor);
      rr.read("original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings);
    }
  }
  r.read("text_tokens_dict_size", c.text_vocab_size);
  r.read("speech_tokens_dict_size", c.speech_vocab_size);
  r.read("start_text_token", c.start_text_token);
  r.read("stop_text_token", c.stop_text_token);
  r.read("start_speech_token", c.start_speech_token);
  r.read("stop_speech_token", c.stop_speech_token);
  r.read("max_text_tokens", c.max_text_tokens);
  r.read("max_speech_tokens", c.max_speech_tokens);
  if (auto it = j.find("input_pos_emb"); it != j.end()) {
    if (it->is_null()) {
      c.learned_pos_emb = false;
    } else if (it->is_string() && it->get<std::string>() == "learned") {
      c.learned_pos_emb = true;
    } else {
      r.fail("input_pos_emb", fmt::format("expected null or \"learned\", got {}", it->dump()));
    }
  }
  if (const auto* lp = r.object("learned_pos_emb")) {
    const auto lr = r.child(*lp, "learned_pos_emb");
    lr.read("text_pos_emb_rows", c.text_pos_emb_rows);
    lr.read("speech_pos_emb_rows", c.speech_pos_emb_rows);
  }
  r.read("speech_cond_prompt_len", c.speech_cond_prompt_len);
  r.read("speaker_embed_size", c.speaker_embed_size);
  r.read("use_perceiver_resampler", c.use_perceiver);
  r.read("emotion_adv", c.emotion_adv);
  r.read("is_multilingual", c.is_multilingual);
  r.read("speech_head_bias", c.speech_head_bias);
  r.read("text_head_bias", c.text_head_bias);
  std::int64_t n_channels = c.hidden_size;
  r.read("n_channels", n_channels);
  if (n_channels != c.hidden_size) {
    r.fail("n_channels",
           fmt::format("{} differs from backbone.hidden_size {}", n_channels, c.hidden_size));
  }
  if (const auto* p = r.object("perceiver")) {
    const auto pr = r.child(*p, "perceiver");
    pr.read("pre_attention_query_token", c.perceiver.num_queries);
    pr.read("pre_attention_query_size", c.perceiver.query_size);
    pr.read("embedding_dim", c.perceiver.embedding_dim);
    pr.read("num_attn_heads", c.perceiver.num_heads);
    pr.read("layernorm_eps", c.perceiver.norm_eps);
    std::int64_t head_dim = 0;
    pr.read("head_dim", head_dim);
    if (head_dim != 0 && c.perceiver.num_heads > 0 &&
        head_dim * c.perceiver.num_heads != c.perceiver.embedding_dim) {
      pr.fail("head_dim", fmt::format("{} x {} heads != embedding_dim {}", head_dim,
                                      c.perceiver.num_heads, c.perceiver.embedding_dim));
    }
  }
  if (const auto* g = r.object("generate_defaults")) {
    const auto gr = r.child(*g, "generate_defaults");
    gr.read("temperature", c.generate.temperature);
    gr.read("top_k", c.generate.top_k);
    gr.read("top_p", c.generate.top_p);
    gr.read("min_p", c.generate.min_p);
    gr.read("repetition_penalty", c.generate.repetition_penalty);
    gr.read("cfg_weight", c.generate.cfg_weight);
    gr.read("exaggeration", c.generate.exaggeration);
    gr.read("max_new_tokens", c.generate.max_new_tokens);
    gr.read("max_gen_len", c.generate.max_new_tokens);
  }
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), ModelFormatError, "invalid T3 config: {}",
                 json_fields::join_problems(problems));
  return c;
}

std::vector<std::string> T3Config::validate() const {
  std::vector<std::string> p;
  auto positive = [&](std::int64_t v, const char* name) {
    if (v <= 0) p.push_back(fmt::format("{} must be > 0, got {}", name, v));
  };
  positive(hidden_size, "hidden_size");
  positive(num_layers, "num_layers");
  positive(num_heads, "num_heads");
  positive(head_dim, "head_dim");
  positive(num_kv_heads, "num_kv_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position_embeddings, "max_position_embeddings");
  positive(backbone_vocab_size, "backbone_vocab_size");
  positive(text_vocab_size, "text_vocab_size");
  positive(speech_vocab_size, "speech_vocab_size");
  positive(max_text_tokens, "max_text_tokens");
  positive(max_speech_tokens, "max_speech_tokens");
  positive(speech_cond_prompt_len, "speech_cond_prompt_len");
  positive(speaker_embed_size, "speaker_embed_size");
  if (!(norm_eps > 0)) p.push_back(fmt::format("norm_eps must be > 0, got {}", norm_eps));
  if (num_heads > 0 && num_kv_heads > 0 && num_heads % num_kv_heads != 0) {
    p.push_back(
        fmt::format("num_heads {} is not a multiple of num_kv_heads {}", num_heads, num_kv_heads));
  }
  if (backbone == T3Backbone::Gpt2) {
    if (num_heads * head_dim != hidden_size) {
      p.push_back(fmt::format("gpt2: num_heads {} x head_dim {} != hidden_size {}", num_heads,
                              head_dim, hidden_size));
    }
    if (num_kv_heads != num_heads) {
      p.push_back(fmt::format("gpt2: num_kv_heads {} != num_heads {}", num_kv_heads, num_heads));
    }
  } else {
    if (!(rope_theta > 0)) p.push_back(fmt::format("rope_theta must be > 0, got {}", rope_theta));
    if (rope_scaling.enabled) {
      if (!(rope_scaling.factor > 0)) {
        p.push_back(fmt::format("rope_scaling.factor must be > 0, got {}", rope_scaling.factor));
      }
      if (!(rope_scaling.low_freq_factor > 0 &&
            rope_scaling.high_freq_factor > rope_scaling.low_freq_factor)) {
        p.push_back(
            fmt::format("rope_scaling needs 0 < low_freq_factor ({}) < high_freq_factor ({})",
                        rope_scaling.low_freq_factor, rope_scaling.high_freq_factor));
      }
      positive(rope_scaling.original_max_position_embeddings,
               "rope_scaling.original_max_position_embeddings");
    }
  }
  auto token = [&](std::int64_t id, std::int64_t vocab, const char* name, const char* vname) {
    if (id < 0 || id >= vocab) {
      p.push_back(fmt::format("{} {} outside [0, {} = {})", name, id, vname, vocab));
    }
  };
  token(start_speech_token, speech_vocab_size, "start_speech_token", "speech_vocab_size");
  token(stop_speech_token, speech_vocab_size, "stop_speech_token", "speech_vocab_size");
  token(start_text_token, text_vocab_size, "start_text_token", "text_vocab_size");
  token(stop_text_token, text_vocab_size, "stop_text_token", "text_vocab_size");
  if (learned_pos_emb) {
    positive(text_pos_emb_rows, "text_pos_emb_rows");
    positive(speech_pos_emb_rows, "speech_pos_emb_rows");
  }
  if (use_perceiver) {
    positive(perceiver.num_queries, "perceiver.num_queries");
    positive(perceiver.query_size, "perceiver.query_size");
    positive(perceiver.embedding_dim, "perceiver.embedding_dim");
    positive(perceiver.num_heads, "perceiver.num_heads");
    if (perceiver.num_heads > 0 && perceiver.embedding_dim % perceiver.num_heads != 0) {
      p.push_back(fmt::format("perceiver.num_heads {} does not divide embedding_dim {}",
                              perceiver.num_heads, perceiver.embedding_dim));
    }
    if (perceiver.embedding_dim != hidden_size || perceiver.query_size != hidden_size) {
      p.push_back(
          fmt::format("perceiver.embedding_dim {} and query_size {} must equal hidden_size {}",
                      perceiver.embedding_dim, perceiver.query_size, hidden_size));
    }
    if (!(perceiver.norm_eps > 0)) p.push_back("perceiver.norm_eps must be > 0");
  }
  const auto& g = generate;
  if (!(g.temperature > 0))
    p.push_back(fmt::format("temperature must be > 0, got {}", g.temperature));
  if (g.top_k < 0) p.push_back(fmt::format("top_k must be >= 0, got {}", g.top_k));
  if (!(g.top_p > 0 && g.top_p <= 1))
    p.push_back(fmt::format("top_p must be in (0, 1], got {}", g.top_p));
  if (!(g.min_p >= 0 && g.min_p < 1))
    p.push_back(fmt::format("min_p must be in [0, 1), got {}", g.min_p));
  if (!(g.repetition_penalty > 0)) {
    p.push_back(fmt::format("repetition_penalty must be > 0, got {}", g.repetition_penalty));
  }
  if (!(g.cfg_weight >= 0))
    p.push_back(fmt::format("cfg_weight must be >= 0, got {}", g.cfg_weight));
  positive(g.max_new_tokens, "max_new_tokens");
  return p;
}

std::string T3Config::to_string() const {
  std::string s = fmt::format(
      "T3Config{{backbone={}, hidden={}, layers={}, heads={}, head_dim={}, kv_heads={}, ffn={}, "
      "norm_eps={}",
      t3_backbone_name(backbone), hidden_size, num_layers, num_heads, head_dim, num_kv_heads,
      intermediate_size, norm_eps);
  if (backbone == T3Backbone::Llama) {
    s += fmt::format(", rope_theta={}", rope_theta);
    if (rope_scaling.enabled) {
      s += fmt::format(", rope=llama3(factor={}, low={}, high={}, orig={})", rope_scaling.factor,
                       rope_scaling.low_freq_factor, rope_scaling.high_freq_factor,
                       rope_scaling.original_max_position_embeddings);
    }
  } else {
    s += fmt::format(", wpe_rows={}", max_position_embeddings);
  }
  s += fmt::format(
      ", text_vocab={}, speech_vocab={}, sot={}, eot={}, bos={}, eos={}, prompt_len={}, "
      "speaker_embed={}",
      text_vocab_size, speech_vocab_size, start_text_token, stop_text_token, start_speech_token,
      stop_speech_token, speech_cond_prompt_len, speaker_embed_size);
  if (learned_pos_emb) {
    s += fmt::format(", pos_emb_rows=({}, {})", text_pos_emb_rows, speech_pos_emb_rows);
  }
  if (use_perceiver) {
    s += fmt::format(", perceiver=({} queries, dim {}, {} heads)", perceiver.num_queries,
                     perceiver.embedding_dim, perceiver.num_heads);
  }
  s += fmt::format(
      ", emotion_adv={}, multilingual={}, speech_head_bias={}, generate=(temp={}, top_k={}, "
      "top_p={}, min_p={}, rep={}, cfg={}, max_new={})}}",
      emotion_adv, is_multilingual, speech_head_bias, generate.temperature, generate.top_k,
      generate.top_p, generate.min_p, generate.repetition_penalty, generate.cfg_weight,
      generate.max_new_tokens);
  return s;
}

std::vector<TensorSpec> t3_tensor_specs(const T3Config& c) {
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "t3_tensor_specs: invalid config: {}",
                 json_fields::join_problems(problems));
  const std::int64_t h = c.hidden_size;
  TensorSpecList s;
  if (c.backbone == T3Backbone::Gpt2) {
    s.add("tfmr.wte.weight", {c.backbone_vocab_size, h});
    s.checkpoint_only();
    s.add("tfmr.wpe.weight", {c.max_position_embeddings, h});
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
      const std::string l = fmt::format("tfmr.h.{}", i);
      s.layer_norm(l + ".ln_1", h);
      // GPT-2 Conv1D: weight (in, out).
      s.add(l + ".attn.c_attn.weight", {h, 3 * h});
      if (c.attn_bias) s.add(l + ".attn.c_attn.bias", {3 * h});
      s.add(l + ".attn.c_proj.weight", {h, h});
      if (c.attn_bias) s.add(l + ".attn.c_proj.bias", {h});
      s.layer_norm(l + ".ln_2", h);
      s.add(l + ".mlp.c_fc.weight", {h, c.intermediate_size});
      if (c.mlp_bias) s.add(l + ".mlp.c_fc.bias", {c.intermediate_size});
      s.add(l + ".mlp.c_proj.weight", {c.intermediate_size, h});
      if (c.mlp_bias) s.add(l + ".mlp.c_proj.bias", {h});
    }
    s.layer_norm("tfmr.ln_f", h);
  } else {
    s.add("tfmr.embed_tokens.weight", {c.backbone_vocab_size, h});
    s.unused();
    const std::int64_t q = c.num_heads * c.head_dim;
    const std::int64_t kv = c.num_kv_heads * c.head_dim;
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
      const std::string l = fmt::format("tfmr.layers.{}", i);
      s.linear(l + ".self_attn.q_proj", q, h, c.attn_bias);
      s.linear(l + ".self_attn.k_proj", kv, h, c.attn_bias);
      s.linear(l + ".self_attn.v_proj", kv, h, c.attn_bias);
      s.linear(l + ".self_attn.o_proj", h, q, c.attn_bias);
      s.linear(l + ".mlp.gate_proj", c.intermediate_size, h, c.mlp_bias);
      s.linear(l + ".mlp.up_proj", c.intermediate_size, h, c.mlp_bias);
      s.linear(l + ".mlp.down_proj", h, c.intermediate_size, c.mlp_bias);
      s.add(l + ".input_layernorm.weight", {h});
      s.add(l + ".post_attention_layernorm.weight", {h});
    }
    s.add("tfmr.norm.weight", {h});
  }
  s.linear("cond_enc.spkr_enc", h, c.speaker_embed_size);
  if (c.emotion_adv) s.linear("cond_enc.emotion_adv_fc", h, 1, /*bias=*/false);
  if (c.use_perceiver) {
    const auto& p = c.perceiver;
    s.add("cond_enc.perceiver.pre_attention_query", {1, p.num_queries, p.query_size});
    s.layer_norm("cond_enc.perceiver.attn.norm", p.embedding_dim);
    for (const char* proj : {"to_q", "to_k", "to_v", "proj_out"}) {
      s.linear(fmt::format("cond_enc.perceiver.attn.{}", proj), p.embedding_dim, p.embedding_dim);
    }
  }
  s.add("text_emb.weight", {c.text_vocab_size, h});
  s.add("speech_emb.weight", {c.speech_vocab_size, h});
  if (c.learned_pos_emb) {
    s.add("text_pos_emb.emb.weight", {c.text_pos_emb_rows, h});
    s.add("speech_pos_emb.emb.weight", {c.speech_pos_emb_rows, h});
  }
  s.add("text_head.weight", {c.text_vocab_size, h});
  s.unused();
  if (c.text_head_bias) {
    s.add("text_head.bias", {c.text_vocab_size});
    s.unused();
  }
  s.linear("speech_head", c.speech_vocab_size, h, c.speech_head_bias);
  return s.take();
}

}  // namespace chatterd
