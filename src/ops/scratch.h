#pragma once
// Scratch for ops' per-call temporaries: the decode step's activations (no allocation in the
// decode loop) and the vocoder's bf16 buffers (a fresh large allocation is mapped anew by malloc
// on every call, and touching it costs a page fault and a zeroing per 4 KiB). Callers keep a
// thread_local vector that only grows (one per buffer and thread) and pass a local one for calls
// too large to keep.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace chatterd::ops {

// At most this many bytes stay allocated per kept buffer and thread.
inline constexpr std::size_t kScratchKeepBytes = std::size_t{16} << 20;

// n elements of `keep` (or of `once` when n is over the bound), zero-filled when `zero`.
template <class T>
T* scratch(std::vector<T>& keep, std::vector<T>& once, std::size_t n, bool zero) {
  std::vector<T>& v = n * sizeof(T) <= kScratchKeepBytes ? keep : once;
  if (v.size() < n) v.resize(n);
  if (zero) std::fill(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), T{});
  return v.data();
}

}  // namespace chatterd::ops
