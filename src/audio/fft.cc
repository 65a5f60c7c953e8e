#include "audio/fft.h"

#include <fftw3.h>

#include <map>
#include <memory>
#include <mutex>

#include "core/check.h"

namespace chatterd::audio {

namespace {

// Guards every FFTW call that is not an execute (planner, plan destruction).
std::mutex& planner_mutex() {
  static auto* m = new std::mutex();
  return *m;
}

}  // namespace

const RealFft& RealFft::get(int n) {
  CHATTERD_CHECK(n >= 2, InvalidArgument, "RealFft: size must be >= 2, got {}", n);
  // Never destroyed: plans live as long as the process (static-destruction order would otherwise
  // race the planner mutex at exit).
  static auto* cache = new std::map<int, std::unique_ptr<RealFft>>();
  static std::mutex cache_mutex;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto& slot = (*cache)[n];
  if (!slot) slot.reset(new RealFft(n));
  return *slot;
}

RealFft::RealFft(int n) : n_(n) {
  std::lock_guard<std::mutex> lock(planner_mutex());
  float* in = fftwf_alloc_real(static_cast<std::size_t>(n));
  fftwf_complex* out = fftwf_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
  CHATTERD_CHECK(in != nullptr && out != nullptr, Internal, "RealFft: out of memory for n={}", n);
  fftwf_plan plan = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
  fftwf_free(in);
  fftwf_free(out);
  CHATTERD_CHECK(plan != nullptr, Internal, "RealFft: FFTW could not plan size {}", n);
  plan_ = plan;
}

RealFft::~RealFft() {
  std::lock_guard<std::mutex> lock(planner_mutex());
  fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
}

RealFft::Workspace::Workspace(const RealFft& fft)
    : n_(static_cast<std::size_t>(fft.size())), bins_(static_cast<std::size_t>(fft.bins())) {
  // fftwf_malloc gives the SIMD alignment the plan assumed, as new-array execute requires.
  in_ = fftwf_alloc_real(n_);
  out_ = reinterpret_cast<std::complex<float>*>(fftwf_alloc_complex(bins_));
  CHATTERD_CHECK(in_ != nullptr && out_ != nullptr, Internal, "RealFft: out of memory for n={}",
                 n_);
}

RealFft::Workspace::~Workspace() {
  fftwf_free(in_);
  fftwf_free(out_);
}

void RealFft::forward(Workspace& ws) const {
  CHATTERD_CHECK(ws.n_ == static_cast<std::size_t>(n_), InvalidArgument,
                 "RealFft: workspace for size {} used with size {}", ws.n_, n_);
  fftwf_execute_dft_r2c(static_cast<fftwf_plan>(plan_), ws.in_,
                        reinterpret_cast<fftwf_complex*>(ws.out_));
}

}  // namespace chatterd::audio
