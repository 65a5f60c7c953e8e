// Accuracy cost of reduced-precision T3 matrices (T3Model's matrix_dtype, `--dtype`) on the tiny
// fixtures: teacher-forced decoding (every model is fed the f32 model's greedy tokens) compares
// each step's logits with f32 (max |diff| / max |f32|, the parity metric) and counts the steps
// whose greedy token agrees. The fixtures hold random weights, so the numbers measure the
// arithmetic, not a trained model's sensitivity; the bounds are the measured worst cases rounded
// up a little (see each), so a regression in the kernels or the conversion fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <vector>

#include "core/rng.h"
#include "fixture_dirs.h"
#include "models/synthetic_weights.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_model.h"

namespace chatterd {
namespace {

constexpr int kSteps = 48;

struct Drift {
  double max_rel = 0.0;   // worst step
  double mean_rel = 0.0;  // mean over steps
  int agree = 0;          // steps whose argmax (every batch row) matches f32
  int rows = 0;           // steps x batch rows compared
  // Largest f32 logit gap (top-1 minus the logit of the token the test model picked), relative
  // to max |f32 logit|, over the rows that disagree: near ties of the random fixtures.
  double max_flip_gap = 0.0;
};

std::int64_t argmax(const float* p, std::int64_t n) {
  return std::max_element(p, p + n) - p;
}

Drift teacher_forced(const T3Model& ref, const T3Model& test, const T3Cond& cond,
                     const std::vector<std::int64_t>& text, std::int64_t batch) {
  const ExecContext ctx;
  T3State a = ref.new_state(0, batch);
  T3State b = test.new_state(0, batch);
  Tensor embeds;
  ref.prefill_embeds(ctx, cond, text, a, embeds);
  ref.forward(ctx, embeds, a);
  test.forward(ctx, embeds, b);
  Drift d;
  const std::int64_t v = a.logits.dim(-1);
  for (int step = 0;; ++step) {
    double max_ref = 0.0;
    double max_diff = 0.0;
    for (std::int64_t i = 0; i < a.logits.numel(); ++i) {
      const double r = a.logits.data<float>()[i];
      max_ref = std::max(max_ref, std::fabs(r));
      max_diff = std::max(max_diff, std::fabs(r - b.logits.data<float>()[i]));
    }
    const double rel = max_diff / max_ref;
    d.max_rel = std::max(d.max_rel, rel);
    d.mean_rel += rel;
    for (std::int64_t row = 0; row < batch; ++row) {
      const float* ar = a.logits.data<float>() + row * v;
      const std::int64_t ia = argmax(ar, v);
      const std::int64_t ib = argmax(b.logits.data<float>() + row * v, v);
      d.agree += ia == ib;
      if (ia != ib) d.max_flip_gap = std::max(d.max_flip_gap, (ar[ia] - ar[ib]) / max_ref);
      ++d.rows;
    }
    if (step == kSteps) break;
    const std::int64_t token = argmax(a.logits.data<float>(), v);
    Tensor e;
    ref.decode_embeds(ctx, token, step, a, e);
    ref.forward(ctx, e, a);
    test.forward(ctx, e, b);
  }
  d.mean_rel /= kSteps + 1;
  return d;
}

struct DtypeCase {
  const char* fixture;
  std::vector<std::int64_t> text;
  std::int64_t batch;
};

Drift measure(const DtypeCase& c, DType dtype) {
  const auto dir = test::kFixturesDir / c.fixture;
  const auto ref = T3Model::load(dir, DType::F32);
  const auto test = T3Model::load(dir, dtype);
  const T3Cond cond = load_t3_cond(dir / "conds.pt", ref->config());
  const Drift d = teacher_forced(*ref, *test, cond, c.text, c.batch);
  std::cout << c.fixture << " " << dtype_name(dtype) << ": logits rel err max " << d.max_rel
            << " mean " << d.mean_rel << ", greedy agreement " << d.agree << "/" << d.rows
            << " (largest flipped gap " << d.max_flip_gap << ")\n";
  return d;
}

const DtypeCase kTurbo{"turbo-tiny", {15496, 612, 13}, 1};
const DtypeCase kEnglish{"english-tiny", {255, 17, 42, 42, 300, 9, 0}, 2};

struct Expect {
  const DtypeCase* c;
  double max_rel;  // bound on the worst step's logits error
  int min_agree;   // of kSteps + 1 steps x batch rows
};

void check(DType dtype, std::initializer_list<Expect> cases) {
  for (const Expect& e : cases) {
    const Drift d = measure(*e.c, dtype);
    EXPECT_LT(d.max_rel, e.max_rel) << e.c->fixture;
    EXPECT_GE(d.agree, e.min_agree) << e.c->fixture;
    // A flip needs a gap below twice the logits error, i.e. a near tie; this also catches a
    // wrong argmax bookkeeping.
    EXPECT_LE(d.max_flip_gap, 2.0 * d.max_rel) << e.c->fixture;
  }
}

// bf16 keeps 8 significant bits (weights move by <= 2^-9 = 0.2%); measured worst step 0.57%
// (turbo) / 0.63% (english) of max |logit|, mean 0.33% / 0.36%: bound 0.8%. The one turbo flip
// (48/49) is a near tie of the random fixture (gap < 2x the error).
TEST(T3Dtype, Bf16) {
  check(DType::BF16, {{&kTurbo, 0.008, 48}, {&kEnglish, 0.008, 98}});
}

// q8_0 weights and activations: steps of 1/127 of each 32-block's absmax (<= 0.4% per value,
// twice over); measured worst step 1.8% (turbo; only its 64-wide mlp.c_proj is int8, the 16-wide
// inputs fall back to bf16) / 2.9% (english, all int8), mean 0.8% / 1.8%: bounds 2.5% / 3.5%.
// Agreement measured 47/49 and 96/98, all flips near ties. Where the CPU has AMX, prefills of
// more than 16 rows multiply bf16 activations by the bf16-dequantised weight instead of q8_0
// activations (ops/linear_q8.h): another rounding of the same size, not a larger one (english
// worst step 3.0%, mean 1.7%), which moves one more near tie: 95/98 (every flip's gap is still
// checked to be under twice the error).
TEST(T3Dtype, Int8) {
  check(DType::Q8_0, {{&kTurbo, 0.025, 47}, {&kEnglish, 0.035, 95}});
}

// int4 rows need input widths that are multiples of 128, which the tiny fixtures (16-64 wide)
// do not have: every one of their matrices falls back to q8_0 (checked here), so int4 is
// measured on two-layer models of the real widths with seeded random weights instead: Nano's
// GPT-2 (768 wide, MLP 3072) and English's Llama (1024, MLP 4096), the same teacher-forced drift
// against the same weights in f32.
struct WideDrift {
  Drift q8, q4;
};

// One store and f32 reference per variant (building them is most of the test's time), compared
// with its int8 and int4 conversions.
WideDrift measure_wide(Variant variant) {
  T3Config config = T3Config::defaults(variant);
  config.num_layers = 2;
  // Smaller tables and prompt keep the test quick (the sanitizer builds run it unoptimised); the
  // prompt still makes the prefill take the many-row (AMX / sgemm) paths.
  config.text_vocab_size = std::min<std::int64_t>(config.text_vocab_size, 1024);
  config.speech_cond_prompt_len = 64;
  std::vector<TensorSpec> specs;
  for (auto& spec : t3_tensor_specs(config)) {
    if (spec.presence == TensorPresence::CheckpointOnly || !spec.used_at_inference) continue;
    specs.push_back(std::move(spec));
  }
  const std::shared_ptr<const WeightStore> store =
      make_synthetic_weights(specs, 7, "wide", DType::F32);
  const T3Model ref(store, config, DType::F32);
  T3Cond cond;
  Rng rng(8);
  cond.speaker_emb = Tensor::empty({1, config.speaker_embed_size}, DType::F32);
  rng.fill_normal(cond.speaker_emb.data<float>(), cond.speaker_emb.numel());
  cond.prompt_tokens.resize(static_cast<std::size_t>(config.speech_cond_prompt_len));
  for (auto& t : cond.prompt_tokens) {
    t = static_cast<std::int64_t>(rng.next_u64() %
                                  static_cast<std::uint64_t>(config.speech_vocab_size));
  }
  const std::vector<std::int64_t> text = {config.start_text_token, 40, 41, 42, 43, 44,
                                          config.stop_text_token};
  WideDrift out;
  std::size_t q8_bytes = 0;
  for (const DType dtype : {DType::Q8_0, DType::Q4_0}) {
    const T3Model test(store, config, dtype);
    // int4 really is int4 here (every matrix width is a multiple of 128): 0.5625 bytes a weight
    // against int8's 1.125, plus the same f32 norms and biases.
    if (dtype == DType::Q8_0) q8_bytes = test.decode_weight_bytes();
    if (dtype == DType::Q4_0) {
      EXPECT_LT(test.decode_weight_bytes(), q8_bytes * 52 / 100);
    }
    const Drift d = teacher_forced(ref, test, cond, text, 1);
    std::cout << "two-layer " << variant_name(variant) << " " << dtype_name(dtype)
              << ": logits rel err max " << d.max_rel << " mean " << d.mean_rel
              << ", greedy agreement " << d.agree << "/" << d.rows << " (largest flipped gap "
              << d.max_flip_gap << ")\n";
    EXPECT_LE(d.max_flip_gap, 2.0 * d.max_rel) << variant_name(variant);
    (dtype == DType::Q8_0 ? out.q8 : out.q4) = d;
  }
  return out;
}

TEST(T3Dtype, Int4FallsBackToInt8OnTheNarrowFixtures) {
  const auto dir = test::kFixturesDir / kTurbo.fixture;
  const auto q8 = T3Model::load(dir, DType::Q8_0);
  const auto q4 = T3Model::load(dir, DType::Q4_0);
  EXPECT_EQ(q4->decode_weight_bytes(), q8->decode_weight_bytes());
}

// Measured: int8 0.78% (nano) / 0.94% (english) worst step, every greedy token the same; int4
// 7.9% / 7.7% worst step, mean 6.3% / 6.5%, greedy agreement 41/49 and 40/49 (every flip a gap
// under twice the error). 4-bit codes step 1/8 of a block's range where int8 steps 1/127, so
// int4's error is ~8x int8's: an opt-in trade of accuracy for half the decode bytes.
TEST(T3Dtype, Int4AtRealWidths) {
  struct Bound {
    Variant variant;
    double q8_max_rel, q4_max_rel;
    int q8_agree, q4_agree;  // of 49
  };
  for (const Bound& e : {Bound{Variant::Nano, 0.0125, 0.09, 47, 38},
                         Bound{Variant::English, 0.0125, 0.09, 47, 37}}) {
    const auto [q8, q4] = measure_wide(e.variant);
    EXPECT_LT(q8.max_rel, e.q8_max_rel) << variant_name(e.variant);
    EXPECT_GE(q8.agree, e.q8_agree) << variant_name(e.variant);
    EXPECT_LT(q4.max_rel, e.q4_max_rel) << variant_name(e.variant);
    EXPECT_GE(q4.agree, e.q4_agree) << variant_name(e.variant);
  }
}

TEST(T3Dtype, F32ConversionKeepsTheLogitsAndInt8ShrinksTheStep) {
  const auto dir = test::kFixturesDir / kEnglish.fixture;
  const auto stored = T3Model::load(dir);  // f32 matrices, f16 speech_head (see the README)
  const auto f32 = T3Model::load(dir, DType::F32);
  const auto q8 = T3Model::load(dir, DType::Q8_0);
  // 1.125 bytes per weight instead of 4 (norms and biases stay f32).
  EXPECT_LT(q8->decode_weight_bytes(), f32->decode_weight_bytes() / 3);
  const T3Cond cond = load_t3_cond(dir / "conds.pt", f32->config());
  const Drift d = teacher_forced(*stored, *f32, cond, kEnglish.text, 2);
  EXPECT_EQ(d.max_rel, 0.0);  // f16 -> f32 is exact and the kernels sum in the same order
}

}  // namespace
}  // namespace chatterd
