#include "models/t3/t3_cuda_batcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/logging.h"
#include "models/t3/sampler.h"
#include "models/t3/t3_cuda_decoder.h"
#include "models/t3/t3_cuda_llama_decoder.h"
#include "models/t3/t3_state.h"
#include "ops/device.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/graph.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/kv_slots.h"
#include "backends/cuda/nvml.h"
#include "backends/cuda/stream.h"
#endif

namespace chatterd {

void T3CudaOptions::validate() const {
  CHATTERD_CHECK(device >= 0, InvalidArgument, "CUDA device index must be >= 0, got {}", device);
  CHATTERD_CHECK(slot_positions >= 16 && slot_positions <= (std::int64_t{1} << 20), InvalidArgument,
                 "CUDA T3: slot_positions must be in [16, 1048576], got {}", slot_positions);
}

#ifdef CHATTERD_HAVE_CUDA

struct T3CudaBackend::Impl {
  Impl(const T3Model& m, int device, std::int64_t positions)
      : model(m), dc(device), ctx(device_ctx(dc)) {
    if (m.is_llama()) {
      llama.emplace(ctx, m, positions);
    } else {
      gpt2.emplace(ctx, m);
    }
    std::string reason;
    nvml = cuda::Nvml::open(&reason);  // null without a driver's NVML: no GPU telemetry
  }
  static ExecContext device_ctx(cuda::DeviceContext& dc) {
    ExecContext c;
    c.cuda = &dc;
    return c;
  }
  const T3Model& model;
  cuda::DeviceContext dc;
  ExecContext ctx;                          // device work: ctx.cuda = &dc
  std::optional<T3CudaDecoder> gpt2;        // Turbo, Nano
  std::optional<T3CudaLlamaDecoder> llama;  // English, Multilingual
  cuda::BusyTimer step_timer;               // after dc: its events belong to dc's device
  // NVML numbers devices by PCI order, the runtime by CUDA_DEVICE_ORDER (fastest first by
  // default); on a machine with one GPU they agree, elsewhere set CUDA_DEVICE_ORDER=PCI_BUS_ID.
  std::unique_ptr<cuda::Nvml> nvml;
};

namespace {

// What both device batchers share: the backend, the stream bound and position limit, the
// request checks, the counters, and making the device current where a batcher is dropped.
class T3CudaBatcherBase : public T3StreamBatcher {
 public:
  T3CudaBatcherBase(std::shared_ptr<T3CudaBackend::Impl> impl, const T3CudaOptions& options,
                    std::int64_t max_batch)
      : impl_(std::move(impl)),
        model_(impl_->model),
        max_batch_(max_batch),
        limit_(std::min(options.slot_positions, model_.max_positions())) {
    CHATTERD_CHECK(max_batch >= 1, InvalidArgument, "CUDA T3: max_batch must be >= 1, got {}",
                   max_batch);
  }
  // Graphs and device blocks are released on whichever thread drops the batcher.
  ~T3CudaBatcherBase() override {
    try {
      impl_->dc.make_current();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor reports nothing
    }
  }
  T3CudaBatcherBase(const T3CudaBatcherBase&) = delete;
  T3CudaBatcherBase& operator=(const T3CudaBatcherBase&) = delete;

  std::int64_t max_batch() const override { return max_batch_; }
  std::int64_t steps() const override { return steps_; }
  std::int64_t rows() const override { return rows_; }

 protected:
  // Captures `body` into `graph`; false when the capture failed (nothing captured has run).
  // Out of memory (the cache is not emptied while capturing) is retried at a later step; any
  // other refusal makes that batch size eager for good (state 2), with a warning, instead of
  // failing every step.
  template <class Body>
  bool capture(cuda::Graph& graph, const Body& body, std::int64_t n, std::uint8_t& state) {
    try {
      impl_->dc.capture(graph, body);
      return true;
    } catch (const Unavailable&) {
      graph.reset();
      return false;
    } catch (const Error& e) {
      logger().warn(
          "CUDA T3: the batch-{} step could not be captured as a graph ({}); it runs "
          "eagerly",
          n, e.what());
      graph.reset();
      state = 2;
      return false;
    }
  }

  void check_add(const T3GenerateOptions& options, std::span<const std::int64_t> text_ids) const {
    validate_generate_request(options, text_ids);
    CHATTERD_CHECK(running() < max_batch_, InvalidArgument,
                   "CUDA T3: {} streams already running (max_batch)", max_batch_);
  }

  std::shared_ptr<T3CudaBackend::Impl> impl_;
  const T3Model& model_;
  std::int64_t max_batch_;
  std::int64_t limit_;         // positions a stream may reach: min(slot, model)
  Tensor embeds_;              // host input embeddings, uploaded
  std::vector<float> logits_;  // downloaded logits
  std::vector<float> scores_;  // the host pick's scratch
  StreamId next_id_ = 0;
  std::int64_t steps_ = 0;
  std::int64_t rows_ = 0;
};

class T3CudaBatcher final : public T3CudaBatcherBase {
 public:
  T3CudaBatcher(std::shared_ptr<T3CudaBackend::Impl> impl, const T3CudaOptions& options,
                std::int64_t max_batch)
      : T3CudaBatcherBase(std::move(impl), options, max_batch),
        options_(options),
        vocab_(model_.config().speech_vocab_size),
        slots_(slots_on_device(*impl_, max_batch, limit_)) {
    cuda::DeviceContext& dc = impl_->dc;
    dc.make_current();
    static_assert(sizeof(cuda::TurboSampling) % sizeof(std::int32_t) == 0);
    // Step inputs, one upload: ids i32 [max_batch] | uniforms f32 [max_batch] | TurboSampling
    // [max_batch]. Fixed addresses, so captured graphs read each step's values.
    const std::int64_t words =
        max_batch * (2 + static_cast<std::int64_t>(sizeof(cuda::TurboSampling) / 4));
    inputs_ = dc.empty(Shape{words}, DType::I32);
    inputs_host_.assign(static_cast<std::size_t>(words) * sizeof(std::int32_t), std::byte{0});
    seen_ = dc.empty(Shape{max_batch, vocab_}, DType::I8);
    processed_ = dc.empty(Shape{max_batch, vocab_}, DType::F32);
    picked_ = dc.empty(Shape{max_batch}, DType::I32);
    picked_host_.assign(static_cast<std::size_t>(max_batch), 0);
    scratch_.resize(static_cast<std::size_t>(max_batch));
    graphs_.resize(static_cast<std::size_t>(max_batch));
    sized_.assign(static_cast<std::size_t>(max_batch), 0);
    model_.reset_state(host_state_, 1);
    streams_.reserve(static_cast<std::size_t>(max_batch));
  }

  StreamId add(const ExecContext& ctx, const T3Cond& cond, std::span<const std::int64_t> text_ids,
               const T3GenerateOptions& options, SpeechTokenCallback on_token) override {
    check_add(options, text_ids);
    Stream s{.id = next_id_++,
             .options = options,
             .sampler = t3::Sampler(options.sampling.seed),
             .tokens = {.eos = model_.config().stop_speech_token, .on_token = std::move(on_token)}};
    T3GenerateResult& result = s.tokens.result;
    result.prefill_length = model_.prefill_length(cond, static_cast<std::int64_t>(text_ids.size()));
    CHATTERD_CHECK(result.prefill_length <= limit_, InvalidArgument,
                   "T3 generate: prefill of {} positions (conditioning {} + text {} + BOS) exceeds "
                   "the {} positions of a CUDA stream slot",
                   result.prefill_length, model_.cond_length(cond), text_ids.size(), limit_);
    result.tokens.reserve(static_cast<std::size_t>(options.max_gen_len + 1));

    cuda::DeviceContext& dc = impl_->dc;
    dc.make_current();
    const std::int64_t slot = running();
    model_.prefill_embeds(ctx, cond, text_ids, host_state_, embeds_);
    const Tensor logits =
        impl_->gpt2->prefill_slot(impl_->ctx, slots_, slot, ops::to_device(impl_->ctx, embeds_));
    logits_.resize(static_cast<std::size_t>(vocab_));
    dc.download(logits.raw_data(), logits_.size() * sizeof(float), logits_.data());

    // The first pick on the host, with the CPU chain and history [BOS].
    const std::int64_t bos = model_.config().start_speech_token;
    const std::int64_t token = pick_turbo_token(logits_, std::span<const std::int64_t>(&bos, 1),
                                                options.sampling, s.sampler, scores_);
    // The device's repetition history for later steps: the tokens generated (not BOS).
    std::vector<std::int8_t> seen(static_cast<std::size_t>(vocab_), 0);
    if (token >= 0) seen[static_cast<std::size_t>(token)] = 1;
    dc.upload(seen.data(), seen.size(), seen_.device_data<std::int8_t>() + slot * vocab_);

    s.tokens.take_first(token);
    finish_if_over(s, slot);
    const StreamId id = s.id;
    streams_.push_back(std::move(s));
    return id;
  }

  std::vector<Finished> step(const ExecContext& /*ctx*/) override {
    impl_->dc.make_current();
    std::vector<Finished> finished;
    retire(finished);  // streams that ended at add()
    const std::int64_t n = running();
    if (n > 0) {
      impl_->step_timer.begin(impl_->dc.stream());
      run_step(n);
      impl_->step_timer.end(impl_->dc.stream());
      ++steps_;
      rows_ += n;
      for (std::int64_t b = 0; b < n; ++b) {
        Stream& s = streams_[static_cast<std::size_t>(b)];
        s.tokens.take_next(picked_host_[static_cast<std::size_t>(b)]);
        finish_if_over(s, b);
      }
    }
    retire(finished);
    return finished;
  }

  std::int64_t running() const override { return static_cast<std::int64_t>(streams_.size()); }

 private:
  // The slots are allocated on the backend's device whichever thread builds the batcher.
  // Checked before anything is allocated.
  static cuda::KvSlots slots_on_device(T3CudaBackend::Impl& impl, std::int64_t max_batch,
                                       std::int64_t positions) {
    const T3Config& cfg = impl.model.config();
    CHATTERD_CHECK(cfg.speech_vocab_size <= cuda::kSamplingMaxVocab, Unsupported,
                   "CUDA T3: a speech vocabulary of {} exceeds the device sampler's {}",
                   cfg.speech_vocab_size, cuda::kSamplingMaxVocab);
    impl.dc.make_current();
    return cuda::KvSlots(impl.dc, cfg.num_layers, max_batch, positions, cfg.num_heads,
                         cfg.head_dim);
  }

  struct Stream {
    StreamId id = 0;
    T3GenerateOptions options;
    t3::Sampler sampler;  // the first draw here, then the uniforms of the device's draws
    TurboStreamTokens tokens;
  };

  // Ends `s` (in `slot`) when the budget is spent or the slot has no room left.
  void finish_if_over(Stream& s, std::int64_t slot) {
    s.tokens.finish_if_over(s.options.max_gen_len, slots_.length(slot) >= limit_);
  }

  // Hands finished streams out and keeps the running ones in slots [0, n): the last stream
  // moves into each hole.
  void retire(std::vector<Finished>& finished) {
    std::size_t i = 0;
    while (i < streams_.size()) {
      if (!streams_[i].tokens.done) {
        ++i;
        continue;
      }
      finished.push_back({streams_[i].id, std::move(streams_[i].tokens.result)});
      const std::size_t last = streams_.size() - 1;
      if (i != last) {
        move_slot(static_cast<std::int64_t>(last), static_cast<std::int64_t>(i));
        streams_[i] = std::move(streams_[last]);
      }
      slots_.set_length(static_cast<std::int64_t>(last), 0);
      streams_.pop_back();
    }
  }

  void move_slot(std::int64_t from, std::int64_t to) {
    Tensor seen_to = seen_.narrow0(to, 1);
    impl_->dc.copy(seen_.narrow0(from, 1), seen_to);
    slots_.move_slot(from, to);  // synchronous: the copy above is done too
  }

  void run_step(std::int64_t n) {
    cuda::DeviceContext& dc = impl_->dc;
    const auto nb = static_cast<std::size_t>(max_batch_);
    // Byte offsets of the three arrays (memcpy: the staging buffer holds no typed objects).
    std::byte* ids = inputs_host_.data();
    std::byte* uniforms = ids + nb * sizeof(std::int32_t);
    std::byte* params = uniforms + nb * sizeof(float);
    for (std::int64_t b = 0; b < n; ++b) {
      Stream& s = streams_[static_cast<std::size_t>(b)];
      const t3::SamplingOptions& o = s.options.sampling;
      const auto i = static_cast<std::size_t>(b);
      const auto id = static_cast<std::int32_t>(s.tokens.result.tokens.back());
      const float u = o.greedy ? 0.0f : s.sampler.next_uniform();
      const cuda::TurboSampling p{.temperature = o.temperature,
                                  .top_k = o.top_k,
                                  .top_p = o.top_p,
                                  .repetition_penalty = o.repetition_penalty,
                                  .greedy = o.greedy ? 1 : 0};
      std::memcpy(ids + i * sizeof id, &id, sizeof id);
      std::memcpy(uniforms + i * sizeof u, &u, sizeof u);
      std::memcpy(params + i * sizeof p, &p, sizeof p);
    }
    dc.upload(inputs_host_.data(), inputs_host_.size(), inputs_.raw_data());

    const auto k = static_cast<std::size_t>(n - 1);
    if (!scratch_[k]) scratch_[k] = std::make_unique<T3CudaDecoder::StepScratch>();
    T3CudaDecoder::StepScratch& scratch = *scratch_[k];
    std::int32_t* dev_words = inputs_.device_data<std::int32_t>();
    const Tensor step_ids = inputs_.narrow0(0, n);
    auto body = [&] {
      impl_->gpt2->step(impl_->ctx, slots_, n, step_ids, scratch);
      cuda::sample_turbo_rows(dc.stream().handle(), scratch.logits.device_data<float>(), n, vocab_,
                              reinterpret_cast<const cuda::TurboSampling*>(dev_words + 2 * nb),
                              reinterpret_cast<std::uint8_t*>(seen_.device_data<std::int8_t>()),
                              reinterpret_cast<const float*>(dev_words + nb),
                              processed_.device_data<float>(), picked_.device_data<std::int32_t>());
    };
    // sized_[k]: 0 never run, 1 ran eagerly (graph next), 2 graph refused (eager for good).
    if (!options_.graphs || sized_[k] != 1) {
      body();  // the first step of this size runs eagerly and sizes its scratch
      if (sized_[k] == 0) sized_[k] = 1;
    } else {
      if (!graphs_[k]) graphs_[k] = std::make_unique<cuda::Graph>();
      cuda::Graph& graph = *graphs_[k];
      if (!graph.ready() && !capture(graph, body, n, sized_[k])) {
        body();  // the failed capture ran nothing: this step runs eagerly
      } else {
        slots_.check_room(n);
        graph.launch(dc.stream());
      }
    }
    slots_.note_advanced(n);
    dc.download(picked_.raw_data(), static_cast<std::size_t>(n) * sizeof(std::int32_t),
                picked_host_.data());
  }

  T3CudaOptions options_;
  std::int64_t vocab_;
  cuda::KvSlots slots_;
  std::vector<Stream> streams_;  // stream i holds slot i
  Tensor inputs_;                // device: ids | uniforms | sampling settings
  std::vector<std::byte> inputs_host_;
  Tensor seen_;       // i8 [max_batch, vocab]: the ids each stream has generated
  Tensor processed_;  // f32 [max_batch, vocab]: the sampler's final scores
  Tensor picked_;     // i32 [max_batch]
  std::vector<std::int32_t> picked_host_;
  // Per batch size n (index n - 1): the step's scratch, its graph, its state (see run_step).
  std::vector<std::unique_ptr<T3CudaDecoder::StepScratch>> scratch_;
  std::vector<std::unique_ptr<cuda::Graph>> graphs_;
  std::vector<std::uint8_t> sized_;
  T3State host_state_;  // the host model's scratch for prefill embeddings
};

// English/Multilingual: every stream's CFG pair (row 0 conditional, row 1 unconditional; with
// cfg_weight 0 the second row runs but is not read) holds two adjacent KV slots, and running
// streams hold pairs [0, 2n), so one step is one launch sequence for every row
// (T3CudaLlamaDecoder::step). The English pick (CFG combination, the English chain, the draw)
// runs on the host over the downloaded logit rows, exactly as generate_speech_tokens does; the
// next inputs (speech embedding + learned position) are made on the host and uploaded in one
// copy. Per pair count the step runs eagerly once, then as a replayed CUDA graph (the English
// chain on the device is next).
class T3CudaCfgBatcher final : public T3CudaBatcherBase {
 public:
  T3CudaCfgBatcher(std::shared_ptr<T3CudaBackend::Impl> impl, const T3CudaOptions& options,
                   std::int64_t max_batch)
      : T3CudaBatcherBase(std::move(impl), options, max_batch),
        options_(options),
        vocab_(model_.config().speech_vocab_size),
        slots_(pair_slots(*impl_, max_batch, limit_)) {
    streams_.reserve(static_cast<std::size_t>(max_batch));
    scratch_.resize(static_cast<std::size_t>(max_batch));
    graphs_.resize(static_cast<std::size_t>(max_batch));
    sized_.assign(static_cast<std::size_t>(max_batch), 0);
  }

  StreamId add(const ExecContext& ctx, const T3Cond& cond_in,
               std::span<const std::int64_t> text_ids, const T3GenerateOptions& options,
               SpeechTokenCallback on_token) override {
    check_add(options, text_ids);
    validate_llama_generate_options(options);
    T3Cond cond = cond_in;
    if (options.exaggeration) cond.emotion_adv = *options.exaggeration;

    auto s = std::make_unique<Stream>();
    s->id = next_id_++;
    s->options = options;
    s->on_token = std::move(on_token);
    s->sampler = std::make_unique<t3::Sampler>(options.sampling.seed);
    s->result.prefill_length =
        model_.prefill_length(cond, static_cast<std::int64_t>(text_ids.size()));
    CHATTERD_CHECK(s->result.prefill_length <= limit_, InvalidArgument,
                   "T3 generate: prefill of {} positions exceeds the {} positions of a CUDA "
                   "stream",
                   s->result.prefill_length, limit_);
    s->max_new = std::min(options.max_gen_len, model_.max_fed_speech_tokens());
    s->history.push_back(model_.config().start_speech_token);
    s->result.tokens.reserve(static_cast<std::size_t>(s->max_new));

    cuda::DeviceContext& dc = impl_->dc;
    dc.make_current();
    model_.reset_state(s->host, 1, 2);  // embeddings only: no host RoPE table needed
    model_.prefill_embeds(ctx, cond, text_ids, s->host, embeds_);
    const std::int64_t pair = running();
    const Tensor logits = impl_->llama->prefill_slots(impl_->ctx, slots_, 2 * pair,
                                                      ops::to_device(impl_->ctx, embeds_));
    s->logits.resize(2 * static_cast<std::size_t>(vocab_));
    dc.download(logits.raw_data(), s->logits.size() * sizeof(float), s->logits.data());
    if (s->max_new == 0) s->done = true;
    const StreamId id = s->id;
    streams_.push_back(std::move(s));
    return id;
  }

  std::vector<Finished> step(const ExecContext& ctx) override {
    impl_->dc.make_current();
    std::vector<Finished> finished;
    retire(finished);  // streams that ended at add()
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      pick(*streams_[i], static_cast<std::int64_t>(i));
    }
    retire(finished);
    const std::int64_t n = running();
    if (n == 0) return finished;
    // The pairs' next inputs, in slot order (after the compaction above).
    const std::int64_t d = model_.config().hidden_size;
    step_embeds_host_.resize(static_cast<std::size_t>(2 * n * d));
    for (std::int64_t b = 0; b < n; ++b) {
      Stream& s = *streams_[static_cast<std::size_t>(b)];
      model_.decode_embeds(ctx, s.next_token, s.next_index, s.host, embeds_);  // [2, 1, d]
      std::copy_n(embeds_.data<float>(), 2 * d,
                  step_embeds_host_.data() + static_cast<std::size_t>(2 * b * d));
    }
    cuda::DeviceContext& dc = impl_->dc;
    impl_->step_timer.begin(dc.stream());
    if (!step_embeds_.defined() || step_embeds_.numel() == 0) {
      step_embeds_ = dc.empty(Shape{2 * max_batch_, d}, DType::F32);
    }
    dc.upload(step_embeds_host_.data(), step_embeds_host_.size() * sizeof(float),
              step_embeds_.raw_data());
    const T3CudaLlamaDecoder::StepScratch& scratch = run_step(n);
    logits_.resize(static_cast<std::size_t>(2 * n * vocab_));
    dc.download(scratch.logits.raw_data(), logits_.size() * sizeof(float), logits_.data());
    impl_->step_timer.end(dc.stream());
    const auto pair_floats = 2 * static_cast<std::size_t>(vocab_);
    for (std::int64_t b = 0; b < n; ++b) {
      auto& dst = streams_[static_cast<std::size_t>(b)]->logits;
      std::copy_n(logits_.data() + static_cast<std::size_t>(b) * pair_floats, pair_floats,
                  dst.data());
    }
    ++steps_;
    rows_ += n;
    return finished;
  }

  std::int64_t running() const override { return static_cast<std::int64_t>(streams_.size()); }

 private:
  // The step of n pairs: per pair count, eagerly once (sizing that count's scratch, so its
  // buffers keep their addresses), then captured as a CUDA graph and replayed, as the Turbo
  // batcher does. The inputs are read from step_embeds_ and the lengths from the slots.
  const T3CudaLlamaDecoder::StepScratch& run_step(std::int64_t n) {
    const auto k = static_cast<std::size_t>(n - 1);
    if (!scratch_[k]) scratch_[k] = std::make_unique<T3CudaLlamaDecoder::StepScratch>();
    T3CudaLlamaDecoder::StepScratch& scratch = *scratch_[k];
    auto body = [&] { impl_->llama->step(impl_->ctx, slots_, 2 * n, step_embeds_, scratch); };
    // sized_[k]: 0 never run, 1 ran eagerly (graph next), 2 graph refused (eager for good).
    if (!options_.graphs || sized_[k] != 1) {
      body();
      if (sized_[k] == 0) sized_[k] = 1;
    } else {
      if (!graphs_[k]) graphs_[k] = std::make_unique<cuda::Graph>();
      cuda::Graph& graph = *graphs_[k];
      if (!graph.ready() && !capture(graph, body, 2 * n, sized_[k])) {
        body();  // the failed capture ran nothing: this step runs eagerly
      } else {
        slots_.check_room(2 * n);
        graph.launch(impl_->dc.stream());
      }
    }
    slots_.note_advanced(2 * n);
    return scratch;
  }

  // Two slots per stream on the backend's device, whichever thread builds the batcher.
  static cuda::KvSlots pair_slots(T3CudaBackend::Impl& impl, std::int64_t max_batch,
                                  std::int64_t positions) {
    const T3Config& cfg = impl.model.config();
    impl.dc.make_current();
    return cuda::KvSlots(impl.dc, cfg.num_layers, 2 * max_batch, positions, cfg.num_kv_heads,
                         cfg.head_dim);
  }

  struct Stream {
    StreamId id = 0;
    T3GenerateOptions options;
    SpeechTokenCallback on_token;
    std::unique_ptr<t3::Sampler> sampler;
    T3GenerateResult result;
    std::vector<std::int64_t> history;  // [BOS] + generated
    std::vector<float> logits;          // the pair's latest logits [2, vocab], on the host
    std::int64_t max_new = 0;
    std::int64_t index = 0;       // tokens picked so far
    std::int64_t next_token = 0;  // the input of the next step, token number next_index
    std::int64_t next_index = 0;
    T3State host;  // the host model's scratch for this stream's embeddings
    bool done = false;
  };

  // One iteration of generate_speech_tokens' English loop up to the feed: pick from the pair's
  // logits; the stream (in slot pair `pair`) ends, or its token becomes the next step's input.
  void pick(Stream& s, std::int64_t pair) {
    if (s.done) return;
    const auto v = static_cast<std::size_t>(vocab_);
    const std::span<const float> cond(s.logits.data(), v);
    const std::span<const float> uncond = s.options.cfg_weight > 0.0f
                                              ? std::span<const float>(s.logits.data() + v, v)
                                              : std::span<const float>();
    const std::int64_t token = pick_english_token(cond, uncond, s.options.cfg_weight, s.history,
                                                  s.options.sampling, *s.sampler, scores_);
    if (token < 0) {
      s.result.all_filtered = true;
      s.done = true;
      return;
    }
    s.result.tokens.push_back(token);
    s.history.push_back(token);
    const std::int64_t i = s.index++;
    if (token == model_.config().stop_speech_token) {
      s.result.hit_eos = true;
      s.done = true;
      return;
    }
    if (s.on_token && !s.on_token(token)) {
      s.result.cancelled = true;
      s.done = true;
      return;
    }
    // The reference's last feed is never read; a full slot (or the model's positions) stops.
    if (i + 1 == s.max_new || slots_.length(2 * pair) >= slots_.capacity()) {
      s.done = true;
      return;
    }
    s.next_token = token;
    s.next_index = i;
  }

  // Hands finished streams out and keeps the running ones in pairs [0, n): the last stream's
  // pair moves into each hole.
  void retire(std::vector<Finished>& finished) {
    std::size_t i = 0;
    while (i < streams_.size()) {
      if (!streams_[i]->done) {
        ++i;
        continue;
      }
      finished.push_back({streams_[i]->id, std::move(streams_[i]->result)});
      const std::size_t last = streams_.size() - 1;
      if (i != last) {
        for (std::int64_t r = 0; r < 2; ++r) {
          slots_.move_slot(2 * static_cast<std::int64_t>(last) + r,
                           2 * static_cast<std::int64_t>(i) + r);
        }
        streams_[i] = std::move(streams_[last]);
      }
      slots_.set_length(2 * static_cast<std::int64_t>(last), 0);
      slots_.set_length(2 * static_cast<std::int64_t>(last) + 1, 0);
      streams_.pop_back();
    }
  }

  T3CudaOptions options_;
  std::int64_t vocab_;
  cuda::KvSlots slots_;
  // Per pair count: the step's scratch (fixed addresses for its graph) and the graph.
  std::vector<std::unique_ptr<T3CudaLlamaDecoder::StepScratch>> scratch_;
  std::vector<std::unique_ptr<cuda::Graph>> graphs_;
  std::vector<std::uint8_t> sized_;
  Tensor step_embeds_;                   // [2 max_batch, d] on the device: the step's input
  std::vector<float> step_embeds_host_;  // staged here, one upload
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace

T3CudaBackend::T3CudaBackend(const T3Model& model, const T3CudaOptions& options)
    : options_(options) {
  options_.validate();
  impl_ = std::make_shared<Impl>(model, options_.device, options_.slot_positions);
  description_ = fmt::format("cuda:{} {}", options_.device,
                             cuda::describe(cuda::device_info(options_.device)));
}

T3CudaBackend::~T3CudaBackend() = default;

std::unique_ptr<T3StreamBatcher> T3CudaBackend::make_batcher(std::int64_t max_batch) const {
  if (impl_->llama) return std::make_unique<T3CudaCfgBatcher>(impl_, options_, max_batch);
  return std::make_unique<T3CudaBatcher>(impl_, options_, max_batch);
}

T3CudaMemoryStats T3CudaBackend::memory() const {
  const CachingAllocatorStats s = impl_->dc.device_memory().stats();
  T3CudaMemoryStats m{.bytes_in_use = static_cast<std::int64_t>(s.bytes_in_use),
                      .bytes_cached = static_cast<std::int64_t>(s.bytes_cached),
                      .peak_bytes_in_use = static_cast<std::int64_t>(s.peak_bytes_in_use),
                      .step_device_ms = impl_->step_timer.total_ms(),
                      .timed_steps = impl_->step_timer.calls()};
  if (impl_->nvml) {
    if (const auto u = impl_->nvml->usage(static_cast<unsigned>(options_.device))) {
      m.nvml = true;
      m.gpu_memory_used = static_cast<std::int64_t>(u->memory_used);
      m.gpu_memory_total = static_cast<std::int64_t>(u->memory_total);
      m.gpu_percent = static_cast<int>(u->gpu_percent);
      m.gpu_memory_percent = static_cast<int>(u->memory_percent);
    }
  }
  return m;
}

#else  // no CUDA backend in this build

struct T3CudaBackend::Impl {};

T3CudaBackend::T3CudaBackend(const T3Model& /*model*/, const T3CudaOptions& options)
    : options_(options) {
  options_.validate();
  CHATTERD_THROW(Unsupported,
                 "this build has no CUDA backend (configure with CHATTERD_WITH_CUDA=ON on a "
                 "machine with nvcc)");
}

T3CudaBackend::~T3CudaBackend() = default;

std::unique_ptr<T3StreamBatcher> T3CudaBackend::make_batcher(std::int64_t /*max_batch*/) const {
  CHATTERD_THROW(Unsupported, "this build has no CUDA backend");
}

T3CudaMemoryStats T3CudaBackend::memory() const {
  return {};
}

#endif

}  // namespace chatterd
