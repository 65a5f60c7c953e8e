// `chatterd voice add NAME CLIP --model DIR [--store DIR] [--threads N]`: builds a voice from a
// reference clip (any libsndfile format) and stores it; `chatterd voice list [--store DIR]`.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "models/variant.h"
#include "pipeline/voice_store.h"
#include "tools/commands.h"

namespace chatterd::tools {
Command add_voice_command(CLI::App& app) {
  auto* sub = app.add_subcommand("voice", "Build and list cloned voices");
  sub->require_subcommand(1);
  struct Args {
    std::string name, clip, model, store = default_voice_store();
    int threads = 1;
  };
  auto args = std::make_shared<Args>();
  auto* add = sub->add_subcommand("add", "Build a voice from a reference clip and store it");
  add->add_option("name", args->name, "voice name (A-Z a-z 0-9 _ - .)")->required();
  add->add_option("clip", args->clip, "reference audio file (WAV, FLAC, OGG, ...)")->required();
  add->add_option("--model", args->model, "model directory (its variant decides the recipe)")
      ->required();
  add->add_option("--store", args->store,
                  "voice store folder (default $CHATTERD_VOICE_STORE or "
                  "./chatterd-voices)");
  add->add_option("--threads", args->threads, "CPU threads")->check(CLI::Range(1, 256));
  auto* list = sub->add_subcommand("list", "List the stored voices");
  list->add_option("--store", args->store, "voice store folder");
  return {sub, [args, add, list] {
            if (add->parsed()) {
              const Variant variant = detect_variant(args->model);
              auto models =
                  std::make_shared<const VoiceModels>(VoiceModels::load(args->model, variant));
              ThreadPool pool(args->threads);
              ExecContext ctx;
              ctx.pool = args->threads > 1 ? &pool : nullptr;
              VoiceStore store(models, args->store, ctx);
              const auto t0 = std::chrono::steady_clock::now();
              const auto r = store.add_file(args->name, args->clip);
              const double s =
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
              std::printf("voice '%s' (%s, %lld prompt tokens, %lld S3Gen tokens): %s in %.2f s\n",
                          args->name.c_str(),
                          std::string(voice_family_name(r.voice.family)).c_str(),
                          static_cast<long long>(r.voice.prompt_tokens.dim(1)),
                          static_cast<long long>(r.voice.gen_tokens.dim(1)),
                          r.cache_hit ? "cache hit" : "built", s);
              return 0;
            }
            if (list->parsed()) {
              const VoiceStore store(nullptr, args->store);
              for (const std::string& n : store.list()) {
                const auto v = store.get(n);
                std::printf("%s\t%s\t%s\n", n.c_str(),
                            std::string(voice_family_name(v->family)).c_str(),
                            v->source_sha256.substr(0, 12).c_str());
              }
              return 0;
            }
            return 1;
          }};
}

}  // namespace chatterd::tools
