#pragma once
// Splits text that arrives in pieces (an LLM's output) into segments worth synthesising on their
// own: at sentence boundaries, or at a word boundary when a sentence grows past a bound.
// Pure and single-threaded (one per WebSocket context).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chatterd::serving {

class TextSegmenter {
 public:
  // A sentence longer than `max_segment_bytes` is cut at its last whitespace (or hard, when it
  // has none) so that a text without punctuation still streams.
  explicit TextSegmenter(std::size_t max_segment_bytes = 300) : max_bytes_(max_segment_bytes) {}

  // Appends `piece`; returns the segments now complete. A boundary is '.', '!', '?', ';', ':',
  // or CJK '。！？' followed by whitespace, or a newline. A terminator at the very end of the
  // buffer waits for the next piece ("3." may become "3.5").
  std::vector<std::string> push(std::string_view piece);
  // Everything still buffered as one segment (empty when only whitespace is left); clears.
  std::string flush();
  std::size_t buffered_bytes() const { return buffer_.size(); }

 private:
  std::string buffer_;
  std::size_t max_bytes_;
};

// True when `s` is empty or only ASCII whitespace.
bool is_blank(std::string_view s);

}  // namespace chatterd::serving
