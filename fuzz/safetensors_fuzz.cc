// libFuzzer target: the safetensors reader over arbitrary bytes. Only chatterd::Error may escape
// the reader; anything else (std::exception, a crash, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chatterd/core/error.h"
#include "weights/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data),
                               reinterpret_cast<const std::byte*>(data) + size);
  try {
    auto f = chatterd::SafetensorsFile::from_mapping(
        chatterd::MappedFile::from_bytes(std::move(bytes), "fuzz.safetensors"));
    for (const chatterd::TensorInfo& info : f->tensors()) {
      const chatterd::Tensor t = f->get(info.name);
      volatile std::size_t sink = t.nbytes();  // touch the view
      (void)sink;
    }
  } catch (const chatterd::Error&) {
  }
  return 0;
}
