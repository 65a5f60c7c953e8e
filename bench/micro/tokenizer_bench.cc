// Text front-end speed: punc_norm and GPT-2 BPE on the design's "long" benchmark sentence, and
// loading the Turbo tokenizer files. Fixtures are found from this file's path, or from
// $CHATTERD_TOKENIZER_DIR.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "text/gpt2_tokenizer.h"
#include "text/punc_norm.h"
#include "text/text_prep.h"

namespace chatterd::text {
namespace {

constexpr const char* kLongText =
    "I understand you're concerned about the charges on your account. Let me walk you through each "
    "item on your "
    "bill. First, there's your monthly subscription fee, then we have the usage charges from last "
    "month, and "
    "finally a small processing fee that applies to all accounts.";

std::filesystem::path tokenizer_dir() {
  if (const char* env = std::getenv("CHATTERD_TOKENIZER_DIR")) return env;
  return std::filesystem::path(__FILE__).parent_path() / "../../tests/fixtures/tokenizers/turbo";
}

const Gpt2Tokenizer& turbo() {
  static const Gpt2Tokenizer tok = Gpt2Tokenizer::from_dir(tokenizer_dir());
  return tok;
}

void BM_PuncNormTurboLong(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(punc_norm(kLongText, PuncNormFlavor::kTurbo));
}
BENCHMARK(BM_PuncNormTurboLong);

// Steady state: words seen before come from the BPE cache.
void BM_Gpt2EncodeLongWarm(benchmark::State& state) {
  const std::string text = punc_norm(kLongText, PuncNormFlavor::kTurbo);
  const Gpt2Tokenizer& tok = turbo();
  std::size_t n_ids = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text);
    n_ids = ids.size();
    benchmark::DoNotOptimize(ids);
  }
  state.counters["ids"] = static_cast<double>(n_ids);
}
BENCHMARK(BM_Gpt2EncodeLongWarm)->Unit(benchmark::kMicrosecond);

// Worst case: every word goes through BPE.
void BM_Gpt2EncodeLongCold(benchmark::State& state) {
  const std::string text = punc_norm(kLongText, PuncNormFlavor::kTurbo);
  const Gpt2Tokenizer& tok = turbo();
  for (auto _ : state) {
    tok.clear_cache();
    benchmark::DoNotOptimize(tok.encode(text));
  }
}
BENCHMARK(BM_Gpt2EncodeLongCold)->Unit(benchmark::kMicrosecond);

// The whole Turbo text front-end: punc_norm + encode.
void BM_TurboTextFrontEndLong(benchmark::State& state) {
  const Gpt2Tokenizer& tok = turbo();
  for (auto _ : state)
    benchmark::DoNotOptimize(tok.encode(punc_norm(kLongText, PuncNormFlavor::kTurbo)));
}
BENCHMARK(BM_TurboTextFrontEndLong)->Unit(benchmark::kMicrosecond);

void BM_MultilingualEncodeInputLong(benchmark::State& state) {
  const Language en = Language::parse("en");
  for (auto _ : state) benchmark::DoNotOptimize(multilingual_encode_input(kLongText, en));
}
BENCHMARK(BM_MultilingualEncodeInputLong)->Unit(benchmark::kMicrosecond);

void BM_Gpt2LoadTurbo(benchmark::State& state) {
  const std::filesystem::path dir = tokenizer_dir();
  for (auto _ : state) benchmark::DoNotOptimize(Gpt2Tokenizer::from_dir(dir));
}
BENCHMARK(BM_Gpt2LoadTurbo)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd::text
