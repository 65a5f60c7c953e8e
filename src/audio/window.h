#pragma once
// Analysis windows, computed the way the reference computes them (same precision, same formula), so
// that the frame products match bit for bit or to one ulp.

#include <vector>

namespace chatterd::audio {

// torch.hann_window(n, periodic) in float32: 0.5 - 0.5 cos(i * 2pi/(N-1)) with N = n + periodic,
// evaluated in float as torch does.
std::vector<float> torch_hann_window(int n, bool periodic = true);

// scipy.signal.get_window("hann", n, fftbins=True) (librosa's window) in double.
std::vector<double> librosa_hann_window(int n);

// Kaldi's "povey" window as torchaudio.compliance.kaldi builds it: symmetric torch Hann^0.85 (f32).
std::vector<float> povey_window(int n);

}  // namespace chatterd::audio
