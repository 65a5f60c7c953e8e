#include "models/t3/t3_batch_generate.h"

#include <algorithm>
#include <utility>

#include "core/check.h"

namespace chatterd {

T3BatchGenerator::T3BatchGenerator(const T3Model& model, std::int64_t max_batch)
    : model_(model), max_batch_(max_batch) {
  CHATTERD_CHECK(!model.is_llama(), InvalidArgument,
                 "T3BatchGenerator: only Turbo/Nano (GPT-2) streams are batched");
  CHATTERD_CHECK(max_batch >= 1, InvalidArgument,
                 "T3BatchGenerator: max_batch must be >= 1, got {}", max_batch);
  streams_.reserve(static_cast<std::size_t>(max_batch));
}

std::int64_t T3BatchGenerator::pick(Stream& s, std::span<const std::int64_t> history) {
  const Tensor& logits = s.state->logits;
  return pick_turbo_token(
      std::span<const float>(logits.data<float>(), static_cast<std::size_t>(logits.numel())),
      history, s.options.sampling, *s.sampler, scores_);
}

void T3BatchGenerator::finish_if_over(Stream& s) {
  s.tokens.finish_if_over(s.options.max_gen_len, model_.max_positions() <= s.state->length());
}

T3BatchGenerator::StreamId T3BatchGenerator::add(const ExecContext& ctx, const T3Cond& cond,
                                                 std::span<const std::int64_t> text_ids,
                                                 const T3GenerateOptions& options,
                                                 SpeechTokenCallback on_token) {
  validate_generate_request(options, text_ids);
  CHATTERD_CHECK(running() < max_batch_, InvalidArgument,
                 "T3BatchGenerator: {} streams already running (max_batch)", max_batch_);

  Stream s;
  s.id = next_id_++;
  s.options = options;
  s.tokens.eos = model_.config().stop_speech_token;
  s.tokens.on_token = std::move(on_token);
  T3GenerateResult& result = s.tokens.result;
  result.prefill_length = model_.prefill_length(cond, static_cast<std::int64_t>(text_ids.size()));
  CHATTERD_CHECK(result.prefill_length <= model_.max_positions(), InvalidArgument,
                 "T3 generate: prefill of {} positions (conditioning {} + text {} + BOS) exceeds "
                 "the model's {}",
                 result.prefill_length, model_.cond_length(cond), text_ids.size(),
                 model_.max_positions());
  if (!free_states_.empty()) {
    s.state = std::move(free_states_.back());
    free_states_.pop_back();
  } else {
    s.state = std::make_unique<T3State>();
  }
  const std::int64_t capacity = result.prefill_length + options.max_gen_len + 1;
  model_.reset_state(*s.state, std::min(capacity, model_.max_positions()));
  s.sampler = std::make_unique<t3::Sampler>(options.sampling.seed);
  result.tokens.reserve(static_cast<std::size_t>(options.max_gen_len + 1));

  T3State& st = *s.state;
  model_.prefill(ctx, cond, text_ids, options.cond_prefix, st);
  const std::int64_t bos = model_.config().start_speech_token;
  s.tokens.take_first(pick(s, std::span<const std::int64_t>(&bos, 1)));
  finish_if_over(s);
  const StreamId id = s.id;
  streams_.push_back(std::move(s));
  return id;
}

std::vector<T3BatchGenerator::Finished> T3BatchGenerator::step(const ExecContext& ctx) {
  // Rows: every stream still running.
  batch_states_.clear();
  for (Stream& s : streams_) {
    if (!s.tokens.done) batch_states_.push_back(s.state.get());
  }
  if (!batch_states_.empty()) {
    const std::int64_t d = model_.config().hidden_size;
    const auto n = static_cast<std::int64_t>(batch_states_.size());
    embeds_.resize(Shape{n, d}, DType::F32);
    std::int64_t r = 0;
    for (Stream& s : streams_) {
      if (s.tokens.done) continue;
      const std::int64_t token = s.tokens.result.tokens.back();
      model_.embed_speech(ctx, std::span<const std::int64_t>(&token, 1), *s.state, row_);
      std::copy_n(row_.data<float>(), d, embeds_.data<float>() + r * d);
      ++r;
    }
    model_.forward_batch(ctx, embeds_, batch_states_, scratch_);
    ++steps_;
    rows_ += n;
    for (Stream& s : streams_) {
      if (s.tokens.done) continue;
      s.tokens.take_next(pick(s, s.tokens.result.tokens));
      finish_if_over(s);
    }
  }

  std::vector<Finished> finished;
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (!it->tokens.done) {
      ++it;
      continue;
    }
    finished.push_back({it->id, std::move(it->tokens.result)});
    free_states_.push_back(std::move(it->state));
    it = streams_.erase(it);
  }
  return finished;
}

}  // namespace chatterd
