#pragma once
// The inputs a T3 golden (golden/t3_<variant>.safetensors) was made from: the conditioning, the
// text ids and the teacher-forced speech tokens, for the CUDA T3 tests.

#include <vector>

#include "chatterd/core/tensor.h"
#include "models/t3/t3_cond.h"
#include "weights/safetensors.h"

namespace chatterd::test {

// i32 or i64 ids as i64.
inline std::vector<std::int64_t> ids_of(const Tensor& t) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    out.push_back(t.dtype() == DType::I64 ? t.data<std::int64_t>()[i] : t.data<std::int32_t>()[i]);
  }
  return out;
}

struct T3GoldenInputs {
  T3Cond cond;
  std::vector<std::int64_t> text_ids;
  std::vector<std::int64_t> tf_tokens;
};

inline T3GoldenInputs t3_golden_inputs(const SafetensorsFile& g) {
  T3GoldenInputs in;
  in.cond.speaker_emb = g.get("inputs/speaker_emb").clone();
  in.cond.prompt_tokens = ids_of(g.get("inputs/cond_prompt_speech_tokens"));
  in.text_ids = ids_of(g.get("inputs/text_tokens"));
  in.tf_tokens = ids_of(g.get("inputs/tf_speech_tokens"));
  return in;
}

}  // namespace chatterd::test
