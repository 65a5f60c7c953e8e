#pragma once
// The open WebSocket sessions, so that a graceful shutdown can tell each to go away (close code
// 1001) and wait until they have. Each entry is a callback that posts to its session's strand;
// the registry never owns a session.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

namespace chatterd::serving {

class SessionRegistry {
 public:
  using Id = std::uint64_t;
  // Registers `go_away` (called at most once, from the thread calling go_away_all). nullopt when
  // shutdown already began: the caller must go away itself.
  std::optional<Id> add(std::function<void()> go_away);
  // The session is closed (idempotent for an id).
  void remove(Id id);
  // Refuses later add()s and calls every registered go_away (outside the lock: a callback may
  // drop the last reference to its session, whose destructor calls remove()).
  void go_away_all();
  // True when every session was removed before `deadline`.
  bool wait_empty(std::chrono::steady_clock::time_point deadline);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::map<Id, std::function<void()>> sessions_;
  Id next_id_ = 1;
  bool closing_ = false;
};

}  // namespace chatterd::serving
