#include "serving/voice_service.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "chatterd/core/error.h"
#include "core/check.h"
#include "pipeline/chatterbox_engine.h"
#include "pipeline/engine_factory.h"
#include "pipeline/voice_builder.h"
#include "pipeline/voice_store.h"

namespace chatterd::serving {

VoiceService::VoiceService(TtsEngine& engine, std::string model, std::string store_dir,
                           int n_threads, std::function<void()> on_added)
    : engine_(engine),
      chatterbox_(dynamic_cast<ChatterboxEngine*>(&engine)),
      model_(std::move(model)),
      store_dir_(std::move(store_dir)),
      n_threads_(n_threads > 0
                     ? n_threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      on_added_(std::move(on_added)),
      names_(engine.info().voices) {}

VoiceService::~VoiceService() = default;

std::string VoiceService::why_not() const {
  if (can_clone()) return {};
  return "engine '" + engine_.info().name +
         "' cannot clone voices; serve a Chatterbox model (--model DIR) to upload clips";
}

VoiceAdded VoiceService::add(const std::string& name, std::span<const std::byte> clip) {
  CHATTERD_CHECK(can_clone(), Unsupported, "{}", why_not());
  check_voice_name(name);
  if (!store_) {
    const ModelSpec spec = parse_model_spec(model_);
    const Variant variant = chatterbox_->variant();
    std::shared_ptr<const VoiceModels> models;
    if (const auto* dir = std::get_if<DirectoryModel>(&spec)) {
      models = std::make_shared<const VoiceModels>(VoiceModels::load(dir->path, variant));
    } else {
      models = std::make_shared<const VoiceModels>(VoiceModels::synthetic(variant));
    }
    pool_ = std::make_unique<ThreadPool>(n_threads_);
    ExecContext ctx;
    ctx.pool = n_threads_ > 1 ? pool_.get() : nullptr;
    store_ = std::make_unique<VoiceStore>(std::move(models), store_dir_, ctx);
  }
  const auto t0 = std::chrono::steady_clock::now();
  AudioData audio;
  try {
    audio = read_voice_clip(clip, name);
  } catch (const InvalidArgument&) {
    throw;
  } catch (const std::exception& e) {  // decoding the client's bytes: their problem, not ours
    CHATTERD_THROW(InvalidArgument, "the uploaded clip cannot be decoded as audio: {}", e.what());
  }
  const VoiceStore::AddResult r = store_->add(name, audio);
  chatterbox_->add_voice(r.voice);
  if (on_added_) on_added_();
  {
    const std::lock_guard lock(names_mutex_);
    if (std::find(names_.begin(), names_.end(), name) == names_.end()) names_.push_back(name);
  }
  return VoiceAdded{
      .name = name,
      .family = std::string(voice_family_name(r.voice.family)),
      .key = r.key,
      .cache_hit = r.cache_hit,
      .build_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

std::vector<std::string> VoiceService::names() const {
  const std::lock_guard lock(names_mutex_);
  return names_;
}

bool VoiceService::known(const std::string& name) const {
  const std::lock_guard lock(names_mutex_);
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

}  // namespace chatterd::serving
