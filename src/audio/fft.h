#pragma once
// Real-input FFT on FFTW3 (single precision). FFTW's planner is not thread-safe, its executor is:
// plans are created once per size under a process-wide mutex (FFTW_ESTIMATE, so creation is cheap
// and deterministic) and cached for the process lifetime; execution runs concurrently through
// fftwf_execute_dft_r2c on per-call scratch buffers, so one RealFft may be shared by any number of
// threads.

#include <complex>
#include <cstddef>
#include <span>

namespace chatterd::audio {

class RealFft {
 public:
  // The cached transform of size n (n >= 2). Throws InvalidArgument for n < 2.
  static const RealFft& get(int n);

  int size() const { return n_; }
  int bins() const { return n_ / 2 + 1; }

  // Aligned scratch for one transform: fill input() (size() floats), call forward(), read
  // output() (bins() complex values, unnormalised: X_k = sum_n x_n e^{-2 pi i k n / N}).
  class Workspace {
   public:
    explicit Workspace(const RealFft& fft);
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    std::span<float> input() { return {in_, n_}; }
    std::span<const std::complex<float>> output() const { return {out_, bins_}; }

   private:
    friend class RealFft;
    float* in_ = nullptr;
    std::complex<float>* out_ = nullptr;
    std::size_t n_ = 0;
    std::size_t bins_ = 0;
  };

  void forward(Workspace& ws) const;

  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;
  ~RealFft();

 private:
  explicit RealFft(int n);
  int n_ = 0;
  void* plan_ = nullptr;  // fftwf_plan
};

}  // namespace chatterd::audio
