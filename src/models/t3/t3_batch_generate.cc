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

bool T3BatchGenerator::emit(Stream& s, std::int64_t token) {
  if (s.on_token && !s.on_token(token)) s.result.cancelled = true;
  return !s.result.cancelled;
}

void T3BatchGenerator::finalize(Stream& s) {
  auto& tokens = s.result.tokens;
  if (!tokens.empty() && tokens.back() == model_.config().stop_speech_token) {
    tokens.pop_back();
    s.pending = false;
  }
  if (s.pending && !tokens.empty()) emit(s, tokens.back());
  s.pending = false;
  s.done = true;
}

void T3BatchGenerator::finish_if_over(Stream& s) {
  if (s.done) return;
  if (s.decode_steps >= s.options.max_gen_len || model_.max_positions() <= s.state->length()) {
    finalize(s);
  }
}

T3BatchGenerator::StreamId T3BatchGenerator::add(const ExecContext& ctx, const T3Cond& cond,
                                                 std::span<const std::int64_t> text_ids,
                                                 const T3GenerateOptions& options,
                                                 SpeechTokenCallback on_token) {
  options.sampling.validate();
  CHATTERD_CHECK(running() < max_batch_, InvalidArgument,
                 "T3BatchGenerator: {} streams already running (max_batch)", max_batch_);
  CHATTERD_CHECK(options.max_gen_len >= 0, InvalidArgument,
                 "T3 generate: max_gen_len must be >= 0, got {}", options.max_gen_len);
  CHATTERD_CHECK(!text_ids.empty(), InvalidArgument, "T3 generate: no text tokens");

  Stream s;
  s.id = next_id_++;
  s.options = options;
  s.on_token = std::move(on_token);
  s.result.prefill_length = model_.prefill_length(cond, static_cast<std::int64_t>(text_ids.size()));
  CHATTERD_CHECK(s.result.prefill_length <= model_.max_positions(), InvalidArgument,
                 "T3 generate: prefill of {} positions (conditioning {} + text {} + BOS) exceeds "
                 "the model's {}",
                 s.result.prefill_length, model_.cond_length(cond), text_ids.size(),
                 model_.max_positions());
  if (!free_states_.empty()) {
    s.state = std::move(free_states_.back());
    free_states_.pop_back();
  } else {
    s.state = std::make_unique<T3State>();
  }
  const std::int64_t capacity = s.result.prefill_length + options.max_gen_len + 1;
  model_.reset_state(*s.state, std::min(capacity, model_.max_positions()));
  s.sampler = std::make_unique<t3::Sampler>(options.sampling.seed);
  s.result.tokens.reserve(static_cast<std::size_t>(options.max_gen_len + 1));

  T3State& st = *s.state;
  model_.prefill(ctx, cond, text_ids, options.cond_prefix, st);
  const std::int64_t bos = model_.config().start_speech_token;
  const std::int64_t token = pick(s, std::span<const std::int64_t>(&bos, 1));
  if (token < 0) {
    s.result.all_filtered = true;
    s.done = true;
  } else {
    s.result.tokens.push_back(token);  // the first token is not checked for EOS
    s.pending = true;
    finish_if_over(s);
  }
  const StreamId id = s.id;
  streams_.push_back(std::move(s));
  return id;
}

std::vector<T3BatchGenerator::Finished> T3BatchGenerator::step(const ExecContext& ctx) {
  // Rows: every stream still running.
  batch_states_.clear();
  for (Stream& s : streams_) {
    if (!s.done) batch_states_.push_back(s.state.get());
  }
  if (!batch_states_.empty()) {
    const std::int64_t d = model_.config().hidden_size;
    const auto n = static_cast<std::int64_t>(batch_states_.size());
    embeds_.resize(Shape{n, d}, DType::F32);
    std::int64_t r = 0;
    for (Stream& s : streams_) {
      if (s.done) continue;
      const std::int64_t token = s.result.tokens.back();
      model_.embed_speech(ctx, std::span<const std::int64_t>(&token, 1), *s.state, row_);
      std::copy_n(row_.data<float>(), d, embeds_.data<float>() + r * d);
      ++r;
    }
    model_.forward_batch(ctx, embeds_, batch_states_, scratch_);
    ++steps_;
    rows_ += n;
    const std::int64_t eos = model_.config().stop_speech_token;
    for (Stream& s : streams_) {
      if (s.done) continue;
      ++s.decode_steps;
      const std::int64_t token = pick(s, s.result.tokens);
      if (token < 0) {
        s.result.all_filtered = true;
        finalize(s);
        continue;
      }
      if (s.pending && !emit(s, s.result.tokens.back())) {
        s.pending = false;
        s.done = true;  // cancelled: the new token is dropped, as generate_speech_tokens does
        continue;
      }
      s.result.tokens.push_back(token);
      s.pending = true;
      if (token == eos) {
        s.result.hit_eos = true;
        finalize(s);
        continue;
      }
      finish_if_over(s);
    }
  }

  std::vector<Finished> finished;
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    finished.push_back({it->id, std::move(it->result)});
    free_states_.push_back(std::move(it->state));
    it = streams_.erase(it);
  }
  return finished;
}

}  // namespace chatterd
