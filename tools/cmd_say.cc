// chatterd say: synthesise one utterance to a WAV file, or stream raw PCM to stdout.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/check.h"
#include "io/audio_encoder.h"
#include "io/audio_file.h"
#include "pipeline/chatterbox_engine.h"
#include "pipeline/voice_builder.h"
#include "tools/commands.h"

namespace chatterd::tools {
namespace {

// Same quantisation as write_wav's PCM16: round(x * 32768), clamped.
std::int16_t to_pcm16(float x) {
  const float v = std::round(x * 32768.0f);
  return static_cast<std::int16_t>(std::clamp(v, -32768.0f, 32767.0f));
}

// Raw little-endian PCM16 on stdout, written as each chunk arrives. Returns false (cancelling the
// synthesis) when stdout is gone.
bool write_pcm16_le(std::span<const float> samples) {
  std::vector<unsigned char> bytes(samples.size() * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto u = static_cast<std::uint16_t>(to_pcm16(samples[i]));
    bytes[2 * i] = static_cast<unsigned char>(u & 0xFF);
    bytes[2 * i + 1] = static_cast<unsigned char>(u >> 8);
  }
  return std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size() &&
         std::fflush(stdout) == 0;
}

// Fails before synthesising rather than after, for the common mistakes.
void check_output_path(const std::filesystem::path& path) {
  std::error_code ec;
  CHATTERD_CHECK(!std::filesystem::is_directory(path, ec), IoError,
                 "cannot write '{}': it is a directory", path.string());
  const std::filesystem::path parent =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  CHATTERD_CHECK(std::filesystem::is_directory(parent, ec), IoError,
                 "cannot write '{}': directory '{}' does not exist", path.string(),
                 parent.string());
}

std::string read_stdin() {
  std::string text;
  std::vector<char> buf(1 << 16);
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), stdin)) > 0) text.append(buf.data(), n);
  CHATTERD_CHECK(std::ferror(stdin) == 0, IoError, "cannot read the text from stdin");
  return text;
}

}  // namespace

Command add_say_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "say", "Speak text: write a 24 kHz mono WAV, or stream raw PCM16 to stdout with -o -");
  struct Args {
    std::string text = "-";
    std::string output;
    std::string model = "espeak";
    std::optional<std::uint64_t> seed;
    int threads = 0;
    bool float_wav = false;
    std::string voice;
    std::string voices = default_voice_store();
    std::string ref;
    std::string language;
    std::optional<float> cfg_weight;
    std::optional<float> exaggeration;
    std::optional<float> temperature;
    std::string dtype = "f32";
    std::string vocoder_dtype = "f32";
    std::string device = "cpu";
  };
  auto args = std::make_shared<Args>();
  sub->add_option("text", args->text, "UTF-8 text to speak; '-' or absent: read stdin");
  sub->add_option("-o,--output", args->output,
                  "output file: .wav, or .mp3 / .opus (Ogg) / .flac by extension; '-' for raw "
                  "16-bit little-endian PCM (24 kHz mono) on stdout")
      ->required();
  sub->add_option("--model", args->model,
                  "espeak | espeak:VOICE (e.g. espeak:en-us, espeak:fr-fr) | model directory | "
                  "synthetic:VARIANT")
      ->capture_default_str();
  sub->add_option("--seed", args->seed, "sampling seed (default: random; espeak ignores it)");
  sub->add_option("--threads", args->threads, "CPU threads (0: one per core)")
      ->check(CLI::Range(0, 1024));
  sub->add_option("--dtype", args->dtype,
                  "T3 matrix weights in memory, converted at load: f32 | f16 | bf16 | int8 | int4 "
                  "(int8: q8_0 blocks, int4: q4_0 blocks; Chatterbox models)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "int8", "int4"}))
      ->capture_default_str();
  sub->add_option("--vocoder-dtype", args->vocoder_dtype,
                  "S3Gen + HiFT matmuls and convs: f32 | bf16 (about 2x faster where the CPU has "
                  "AVX512_BF16; Chatterbox models)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  sub->add_option(
         "--device", args->device,
         "where the model runs: cpu | cuda | cuda:N (Chatterbox models: T3, the S3Gen flow and "
         "HiFT's conv stack on the GPU; HiFT's f0 predictor, source and STFTs on the CPU)")
      ->capture_default_str();
  sub->add_flag("--float", args->float_wav, "write 32-bit float WAV instead of PCM16");
  sub->add_option("--voice", args->voice,
                  "voice name: the model's built-in 'default' or one saved with `chatterd voice "
                  "add` (Chatterbox models)");
  sub->add_option("--voices", args->voices,
                  "saved-voice folder (default $CHATTERD_VOICE_STORE or ./chatterd-voices)");
  sub->add_option("--ref", args->ref,
                  "clone the voice of this clip for this utterance (model directory only)");
  sub->add_option("--language", args->language,
                  "language code for the multilingual model (ar da de el en es fi fr he hi it ja "
                  "ko ms nl no pl pt ru sv sw tr zh); English-only models accept '' or 'en'");
  sub->add_option("--cfg-weight", args->cfg_weight,
                  "classifier-free guidance weight, 0..3 (English/Multilingual; default 0.5)");
  sub->add_option("--exaggeration", args->exaggeration,
                  "emotion exaggeration, 0..2 (English/Multilingual; default 0.5)");
  sub->add_option("--temperature", args->temperature, "sampling temperature (default: model's)");
  return {
      sub, [args] {
        const bool to_stdout = args->output == "-";
        CHATTERD_CHECK(!(to_stdout && args->float_wav), InvalidArgument,
                       "--float applies to WAV output, not to raw PCM on stdout (-o -)");
        const std::optional<AudioCodec> codec =
            to_stdout ? std::nullopt : codec_for_path(args->output);
        CHATTERD_CHECK(!(codec && args->float_wav), InvalidArgument,
                       "--float applies to WAV output, not to {}", args->output);
        if (!to_stdout) check_output_path(args->output);
        const EngineConfig config{.model = args->model,
                                  .n_threads = args->threads,
                                  .voice_store = args->voices,
                                  .t3_dtype = parse_weight_dtype(args->dtype),
                                  .vocoder_dtype = parse_weight_dtype(args->vocoder_dtype),
                                  .device = parse_device_spec(args->device)};
        config.validate();
        const std::unique_ptr<TtsEngine> engine = create_engine(config);

        SynthesisRequest request;
        request.voice = args->voice;
        if (!args->ref.empty()) {
          auto* chatterbox = dynamic_cast<ChatterboxEngine*>(engine.get());
          CHATTERD_CHECK(chatterbox != nullptr, InvalidArgument,
                         "--ref needs a Chatterbox model directory (--model DIR), not '{}'",
                         args->model);
          CHATTERD_CHECK(args->voice.empty(), InvalidArgument, "use either --voice or --ref");
          const VoiceModels models = VoiceModels::load(args->model, chatterbox->variant());
          ThreadPool pool(args->threads);
          const ExecContext ctx{.pool = &pool};
          chatterbox->add_voice(build_voice(ctx, models, read_voice_clip(args->ref), "ref"));
          request.voice = "ref";
        }
        request.text = args->text == "-" ? read_stdin() : args->text;
        request.options.seed = args->seed;
        request.options.language = args->language;
        request.options.cfg_weight = args->cfg_weight;
        request.options.exaggeration = args->exaggeration;
        request.options.temperature = args->temperature;
        ChunkCallback on_chunk;
        if (to_stdout) {
          on_chunk = [](const AudioChunk& c) { return write_pcm16_le(c.samples); };
        }
        const SynthesisResult result = engine->synthesize(request, on_chunk);
        CHATTERD_CHECK(!result.cancelled, IoError,
                       "stopped after {:.2f} s of audio: cannot write to stdout",
                       result.stats.audio_seconds);
        if (codec) {
          write_encoded_audio(args->output, *codec, result.sample_rate_hz, result.samples);
        } else if (!to_stdout) {
          AudioData audio{
              .sample_rate_hz = result.sample_rate_hz, .channels = 1, .samples = result.samples};
          write_wav(args->output, audio, args->float_wav ? WavFormat::Float32 : WavFormat::Pcm16);
        }
        const SynthesisStats& s = result.stats;
        std::fprintf(stderr,
                     "say: %.2f s of audio in %.1f ms (RTF %.3f, TTFA %.1f ms, %lld chunks, "
                     "%s) -> %s\n",
                     s.audio_seconds, s.total_ms, s.real_time_factor, s.time_to_first_audio_ms,
                     static_cast<long long>(s.chunks), engine->info().name.c_str(),
                     to_stdout ? "stdout" : args->output.c_str());
        return 0;
      }};
}

}  // namespace chatterd::tools
