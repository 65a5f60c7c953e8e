#pragma once
// Threading contract between our ThreadPool and OpenBLAS (the pthread build): ops that call
// cblas_* from inside ctx.parallel_for chunks first call blas_use_single_thread(), which pins
// OpenBLAS to one thread once per process, so the pool alone decides the parallelism and two
// thread pools never oversubscribe the cores. (openblas_set_num_threads is process-global and
// not safe to call concurrently, hence the once-flag outside any parallel region.)

#include <cblas.h>

#include <mutex>

namespace chatterd::ops::detail {

inline void blas_use_single_thread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace chatterd::ops::detail
