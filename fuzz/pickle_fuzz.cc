// libFuzzer target: the pickle VM on raw input, then the same bytes as a whole torch .pt zip.
// Only chatterd::Error may escape; anything else crashes the fuzzer on purpose.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "chatterd/core/error.h"
#include "weights/pickle.h"
#include "weights/torch_pt.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> span(reinterpret_cast<const std::byte*>(data), size);
  try {
    const chatterd::Pickle pickle(span, "fuzz.pkl");
    (void)pickle.root().kind_name();
  } catch (const chatterd::Error&) {
  }
  try {
    auto pt = chatterd::TorchPtFile::from_mapping(chatterd::MappedFile::from_bytes(
        std::vector<std::byte>(span.begin(), span.end()), "fuzz.pt"));
    for (const chatterd::TensorInfo& info : pt->tensors()) {
      const chatterd::Tensor t = pt->get(info.name);
      volatile std::size_t sink = t.nbytes();
      (void)sink;
    }
  } catch (const chatterd::Error&) {
  }
  return 0;
}
