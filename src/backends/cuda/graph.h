#pragma once
// A CUDA graph captured from a stream: record a fixed sequence of kernels once, replay it with
// one launch. Decode steps are hundreds of small kernels whose launch cost (a few us each) is
// larger than their work at batch 1; a replayed graph pays it once. Everything the kernels touch
// must stay at the same addresses between replays (kept-alive scratch, fixed KV slots), and
// nothing during capture may synchronise or allocate from the driver (warm the caches first).

#include <memory>
#include <vector>

struct CUgraphExec_st;

namespace chatterd::cuda {

class Stream;

class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Everything queued on `stream` between begin and end becomes the graph (not run).
  void begin_capture(const Stream& stream);
  void end_capture(const Stream& stream);
  bool ready() const { return exec_ != nullptr; }
  // Queues one replay on `stream`.
  void launch(const Stream& stream) const;
  // Keeps a block the captured kernels use alive (and out of the allocator's cache) for the
  // graph's lifetime: scratch freed during capture would otherwise be handed to other tensors
  // that each replay then overwrites.
  void retain(std::shared_ptr<void> block) { retained_.push_back(std::move(block)); }
  std::vector<std::shared_ptr<void>>& retained() { return retained_; }
  // Drops the captured graph and its blocks (a failed re-capture must not leave the old one
  // launchable over memory it no longer holds).
  void reset();

 private:
  CUgraphExec_st* exec_ = nullptr;
  std::vector<std::shared_ptr<void>> retained_;
};

}  // namespace chatterd::cuda
