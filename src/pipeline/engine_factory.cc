#include "pipeline/engine_factory.h"

#include <fmt/format.h>

#include <charconv>
#include <system_error>

#include "chatterd/engine/tts_engine.h"
#include "core/check.h"
#include "core/logging.h"
#include "engines/espeak/espeak_engine.h"
#include "pipeline/chatterbox_engine.h"

namespace chatterd {
namespace {

constexpr std::string_view kEspeak = "espeak";
constexpr std::string_view kEspeakPrefix = "espeak:";
constexpr std::string_view kSyntheticPrefix = "synthetic:";
constexpr int kMaxThreads = 1024;
constexpr int kMaxBatch = 64;

void check_threads(int n_threads) {
  CHATTERD_CHECK(n_threads >= 0 && n_threads <= kMaxThreads, InvalidArgument,
                 "n_threads must be in [0, {}] (0: one per core), got {}", kMaxThreads, n_threads);
}

}  // namespace

ModelSpec parse_model_spec(std::string_view model) {
  if (model == kEspeak) return EspeakModel{};
  if (model.starts_with(kEspeakPrefix)) {
    const std::string_view voice = model.substr(kEspeakPrefix.size());
    CHATTERD_CHECK(
        !voice.empty(), InvalidArgument,
        "model '{}' names no voice: use 'espeak' or 'espeak:<voice>' (e.g. espeak:en-us)", model);
    return EspeakModel{.voice = std::string(voice)};
  }
  if (model.starts_with(kSyntheticPrefix)) {
    return SyntheticModel{.variant = parse_variant(model.substr(kSyntheticPrefix.size()))};
  }
  std::error_code ec;
  const std::filesystem::path path(model);
  CHATTERD_CHECK(!model.empty() && std::filesystem::is_directory(path, ec), InvalidArgument,
                 "model '{}' is not 'espeak', 'espeak:<voice>', 'synthetic:<variant>' or an "
                 "existing model directory",
                 model);
  return DirectoryModel{.path = path};
}

DeviceSpec parse_device_spec(std::string_view text) {
  if (text == "cpu") return DeviceSpec{};
  if (text == "cuda") return DeviceSpec{.kind = Device::CUDA, .index = 0};
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (text.starts_with(kCudaPrefix)) {
    const std::string_view digits = text.substr(kCudaPrefix.size());
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    // Digits only (from_chars takes a '-'), and a bound no machine reaches.
    if (ec == std::errc() && end == digits.data() + digits.size() && index >= 0 && index < 1000) {
      return DeviceSpec{.kind = Device::CUDA, .index = index};
    }
  }
  CHATTERD_THROW(InvalidArgument, "device '{}': expected cpu, cuda or cuda:<index> (e.g. cuda:1)",
                 text);
}

std::string device_spec_name(const DeviceSpec& device) {
  if (device.kind == Device::CPU) return "cpu";
  return fmt::format("cuda:{}", device.index);
}

std::string_view weight_dtype_name(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::F32:
      return "f32";
    case WeightDType::F16:
      return "f16";
    case WeightDType::BF16:
      return "bf16";
    case WeightDType::Int8:
      return "int8";
    case WeightDType::Int4:
      return "int4";
  }
  return "?";
}

WeightDType parse_weight_dtype(std::string_view name) {
  for (const WeightDType d : {WeightDType::F32, WeightDType::F16, WeightDType::BF16,
                              WeightDType::Int8, WeightDType::Int4}) {
    if (name == weight_dtype_name(d)) return d;
  }
  CHATTERD_THROW(InvalidArgument, "weight dtype '{}': expected f32, f16, bf16, int8 or int4", name);
}

void EngineConfig::validate() const {
  check_threads(n_threads);
  CHATTERD_CHECK(max_batch >= 1 && max_batch <= kMaxBatch, InvalidArgument,
                 "max_batch must be in [1, {}] (1: no batching), got {}", kMaxBatch, max_batch);
  CHATTERD_CHECK(vocoder_dtype == WeightDType::F32 || vocoder_dtype == WeightDType::BF16,
                 InvalidArgument, "vocoder_dtype must be f32 or bf16, got {}",
                 weight_dtype_name(vocoder_dtype));
  CHATTERD_CHECK(vocoder_batch >= 1 && vocoder_batch <= kMaxBatch, InvalidArgument,
                 "vocoder_batch must be in [1, {}] (1: no vocoder batching), got {}", kMaxBatch,
                 vocoder_batch);
  VocoderBatcherConfig{.max_batch_size = vocoder_batch,
                       .max_wait_ms = vocoder_max_wait_ms,
                       .early_fire_ratio = vocoder_early_fire_ratio}
      .validate();
  CHATTERD_CHECK(device_slot_positions >= 16 && device_slot_positions <= (1 << 20), InvalidArgument,
                 "device_slot_positions must be in [16, 1048576], got {}", device_slot_positions);
  CHATTERD_CHECK(device.index >= 0, InvalidArgument, "device index must be >= 0, got {}",
                 device.index);
  CHATTERD_CHECK(device.kind == Device::CPU || t3_dtype == WeightDType::F32, InvalidArgument,
                 "t3_dtype {} is for the CPU T3; on {} the device holds the matrices in bf16 "
                 "(leave t3_dtype at f32)",
                 weight_dtype_name(t3_dtype), device_spec_name(device));
  (void)parse_model_spec(model);
}

std::string_view vocoder_batch_trigger_name(VocoderBatchTrigger trigger) {
  switch (trigger) {
    case VocoderBatchTrigger::Full:
      return "full";
    case VocoderBatchTrigger::Early:
      return "early";
    case VocoderBatchTrigger::Timeout:
      return "timeout";
    case VocoderBatchTrigger::FastPath:
      return "fast_path";
  }
  return "?";
}

std::unique_ptr<TtsEngine> create_engine(const EngineConfig& config) {
  config.validate();
  const ModelSpec spec = parse_model_spec(config.model);
  if (const auto* espeak = std::get_if<EspeakModel>(&spec)) {
    // espeak-ng is single-threaded; n_threads does not apply to it.
    CHATTERD_CHECK(config.max_batch == 1, Unsupported,
                   "model '{}': max_batch {} needs a Chatterbox Turbo/Nano model (espeak runs one "
                   "request at a time)",
                   config.model, config.max_batch);
    CHATTERD_CHECK(config.device.kind == Device::CPU, Unsupported,
                   "model '{}' runs on the CPU only; device {} needs a Chatterbox model",
                   config.model, device_spec_name(config.device));
    CHATTERD_CHECK(config.vocoder_batch == 1, Unsupported,
                   "model '{}': vocoder_batch {} needs a Chatterbox model (espeak has no vocoder "
                   "to batch)",
                   config.model, config.vocoder_batch);
    espeak::EspeakEngineOptions options;
    options.voice = espeak->voice;
    return std::make_unique<espeak::EspeakEngine>(options);
  }
  std::unique_ptr<ChatterboxEngine> engine;
  if (const auto* dir = std::get_if<DirectoryModel>(&spec)) {
    engine =
        create_chatterbox_engine(dir->path, config.n_threads, config.voice_store, config.t3_dtype);
  } else {
    const auto& synthetic = std::get<SyntheticModel>(spec);
    engine =
        create_synthetic_chatterbox_engine(synthetic.variant, config.n_threads, 0, config.t3_dtype);
  }
  if (config.device.kind == Device::CUDA) {
    // Before the CPU packing, which would leave no f32 estimator weights to upload.
    engine->use_cuda_vocoder(config.device.index,
                             config.vocoder_dtype == WeightDType::BF16 ? DType::BF16 : DType::F32);
  }
  // On CUDA the vocoder's matrices are on the device in vocoder_dtype already; its host stages
  // (HiFT's f0 predictor and source) have nothing to pack.
  if (config.device.kind != Device::CUDA && config.vocoder_dtype == WeightDType::BF16 &&
      !engine->use_bf16_vocoder()) {
    logger().warn("vocoder_dtype bf16: this CPU has no AVX512_BF16; the vocoder stays f32");
  }
  if (config.device.kind == Device::CUDA) {
    // Every request's T3 goes through the device's loop, even at max_batch 1.
    engine->use_cuda(T3CudaOptions{.device = config.device.index,
                                   .slot_positions = config.device_slot_positions},
                     config.max_batch);
  } else if (config.max_batch > 1) {
    engine->enable_batching(T3BatchLoopConfig{.max_batch = config.max_batch});
  }
  if (config.vocoder_batch > 1) {
    engine->enable_vocoder_batching(
        VocoderBatcherConfig{.max_batch_size = config.vocoder_batch,
                             .max_wait_ms = config.vocoder_max_wait_ms,
                             .early_fire_ratio = config.vocoder_early_fire_ratio});
  }
  return engine;
}

}  // namespace chatterd
