#include "serving/session_registry.h"

#include <utility>
#include <vector>

namespace chatterd::serving {

std::optional<SessionRegistry::Id> SessionRegistry::add(std::function<void()> go_away) {
  const std::lock_guard lock(mutex_);
  if (closing_) return std::nullopt;
  const Id id = next_id_++;
  sessions_.emplace(id, std::move(go_away));
  return id;
}

void SessionRegistry::remove(Id id) {
  const std::lock_guard lock(mutex_);
  if (sessions_.erase(id) > 0 && sessions_.empty()) empty_.notify_all();
}

void SessionRegistry::go_away_all() {
  std::vector<std::function<void()>> calls;
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
    for (auto& [id, go_away] : sessions_) calls.push_back(std::exchange(go_away, nullptr));
  }
  for (const auto& call : calls) {
    if (call) call();
  }
}

bool SessionRegistry::wait_empty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return empty_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

std::size_t SessionRegistry::size() const {
  const std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace chatterd::serving
