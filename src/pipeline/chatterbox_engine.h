#pragma once
// The Chatterbox TTS pipeline behind the TtsEngine seam: text -> T3 speech tokens -> S3Gen flow
// (tokens -> mel) -> HiFT (mel -> 24 kHz wav), one text chunk at a time.
//
// Loading happens once: hparams, T3, the S3Gen flow and HiFT (both from the s3gen checkpoint),
// the text encoder and the built-in voice (conds.pt). The models are const and shared by every
// request; per-request state (T3 caches, RNG streams, buffers) lives on the calling thread's
// stack, so synthesize() may run on several threads at once. They share the engine's ThreadPool,
// which serialises parallel regions (ThreadPool::parallel_for takes one submission at a time):
// concurrent requests interleave region by region instead of oversubscribing the cores.
//
// Variants: Turbo and Nano (GPT-2 T3, meanflow S3Gen). English/Multilingual (Llama T3 with CFG)
// plug in at the two variant-specific steps (text encoding and token generation, see
// chatterbox_engine.cc) and are refused with Unsupported until that T3 lands.
//
// Randomness (documented contract: the same seed gives the same audio on any machine and any
// thread count): one Rng(seed) per request; for each text chunk, in order, three u64 are drawn
// from it: the T3 sampler seed, the flow noise seed and the HiFT source-noise seed, each seeding
// its own Rng. A chunk's streams therefore do not depend on how many draws another stage made.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/model_hparams.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_text.h"
#include "models/variant.h"
#include "pipeline/voice.h"
#include "weights/weight_store.h"

namespace chatterd {

// A voice: the conditioning of T3 and of the S3Gen flow (the reference's Conditionals).
struct ChatterboxVoice {
  std::string name;
  T3Cond t3;
  S3GenPrompt gen;
  std::shared_ptr<const WeightStore> source;  // conds.pt: gen's tensors may be views of it
};

// Where the time of one request went (sums over its text chunks), in milliseconds.
struct ChatterboxStageTimes {
  double text_ms = 0.0;        // punc_norm + tokenizer + splitting
  double t3_prefill_ms = 0.0;  // prefill up to the first sampled token
  double t3_decode_ms = 0.0;   // every later token
  std::int64_t t3_decode_steps = 0;
  double flow_encoder_ms = 0.0;  // S3Gen embedding + conformer encoder
  double flow_solver_ms = 0.0;   // noise + ODE solve + prompt trim
  double hift_ms = 0.0;
  double t3_decode_ms_per_token() const {
    return t3_decode_steps > 0 ? t3_decode_ms / static_cast<double>(t3_decode_steps) : 0.0;
  }
};

class ChatterboxEngine final : public TtsEngine {
 public:
  // Everything the engine runs on; built by load() or synthetic().
  struct Parts {
    ModelHparams hp;
    std::shared_ptr<const T3Model> t3;
    std::shared_ptr<const WeightStore> s3gen_weights;  // keeps the flow/HiFT tensors alive
    std::unique_ptr<S3GenFlow> flow;
    std::unique_ptr<hift::Hift> hift;
    std::unique_ptr<T3TextEncoder> text;
    std::vector<ChatterboxVoice> voices;  // voices[0] is the default
    std::string name;                     // EngineInfo::name
    // Synthetic weights never sample EOS: force a token count (see synthetic_token_count()).
    bool forced_length = false;
  };

  ChatterboxEngine(Parts parts, int n_threads);

  // A Hugging Face model directory (Turbo/Nano layout). Throws ModelFormatError naming every
  // missing file (conds.pt included: it is the default voice), IoError
  // for an unreadable directory and Unsupported for English/Multilingual.
  // `t3_dtype`: the T3 matrices are converted to it at load (T3Model).
  static std::unique_ptr<ChatterboxEngine> load(const std::filesystem::path& dir, int n_threads,
                                                WeightDType t3_dtype = WeightDType::F32);
  // Seeded random weights of the real dimensions and a random default voice (`synthetic:<v>`).
  static std::unique_ptr<ChatterboxEngine> synthetic(Variant variant, int n_threads,
                                                     std::uint64_t seed,
                                                     WeightDType t3_dtype = WeightDType::F32);

  const EngineInfo& info() const override { return info_; }
  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk = {}) override;
  // Same, also reporting where the time went (benchmarks).
  SynthesisResult synthesize(const SynthesisRequest& request, const ChunkCallback& on_chunk,
                             ChatterboxStageTimes& times);

  Variant variant() const { return parts_.hp.variant; }
  int n_threads() const { return pool_.size(); }
  const ModelHparams& hparams() const { return parts_.hp; }

  // Adds (or replaces) a cloned voice (pipeline/voice.h) under voice.name. Throws InvalidArgument
  // when it was built for another model family or does not fit this model's dimensions. Safe to
  // call while other threads synthesise; info().voices is updated too, so servers that read
  // info() concurrently must add voices before they start (or through their owner loop).
  void add_voice(const Voice& voice);

 private:
  ChatterboxVoice find_voice(const std::string& name) const;

  Parts parts_;  // parts_.voices is guarded by voices_mutex_ (add_voice may run concurrently)
  mutable std::shared_mutex voices_mutex_;
  EngineInfo info_;
  ThreadPool pool_;
};

// Speech tokens a synthetic engine generates for a text chunk when max_speech_tokens is unset:
// 10 per word (about 2.5 words/s of speech at 25 tokens/s), at least 10.
std::int64_t synthetic_token_count(const std::string& text);

// The factories create_engine() uses. n_threads: 0 = one per hardware core. `voice_store`: a
// VoiceStore directory whose saved voices of this model's family are added (empty: none).
std::unique_ptr<TtsEngine> create_chatterbox_engine(const std::filesystem::path& dir, int n_threads,
                                                    const std::filesystem::path& voice_store = {},
                                                    WeightDType t3_dtype = WeightDType::F32);
std::unique_ptr<TtsEngine> create_synthetic_chatterbox_engine(
    Variant variant, int n_threads, std::uint64_t seed = 0,
    WeightDType t3_dtype = WeightDType::F32);
// The tensor dtype a WeightDType stores (Int8 -> q8_0).
DType weight_dtype_storage(WeightDType dtype);

}  // namespace chatterd
