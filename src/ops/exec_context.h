#pragma once
// What an op needs besides its operands: where to run and with which threads. Passed explicitly
// (no thread-locals). Ops on CUDA tensors run on `cuda`'s stream and allocate from its cache.

#include <functional>

#include "backends/cpu/cpu_features.h"
#include "core/thread_pool.h"

namespace chatterd {

namespace cuda {
class DeviceContext;
}

struct ExecContext {
  ThreadPool* pool = nullptr;            // null: run on the calling thread
  cpu::CpuIsa isa = cpu::default_isa();  // SIMD path for CPU kernels
  // bf16 GEMMs on AMX tiles where the CPU has them (cpu::amx_bf16_available); false: the AVX-512
  // tile (side-by-side benchmarks and tests).
  bool amx = true;
  // Needed by ops given CUDA tensors (builds with the CUDA backend); not owned.
  chatterd::cuda::DeviceContext* cuda = nullptr;

  // Runs fn over [0, n) on the pool when there is one, else inline.
  template <class Fn>
  void parallel_for(std::int64_t n, std::int64_t grain, Fn&& fn) const {
    if (pool == nullptr) {
      if (n > 0) fn(std::int64_t{0}, n);
      return;
    }
    // By reference: a std::function holding a lambda with several captures would allocate on
    // every call (a decode step makes hundreds); one holding a reference_wrapper does not.
    pool->parallel_for(n, grain, std::ref(fn));
  }
};

}  // namespace chatterd
