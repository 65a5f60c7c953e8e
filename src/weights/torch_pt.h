#pragma once
// torch.save zip checkpoints (torch >= 1.6 "new zipfile" format): `<root>/data.pkl` (a pickle
// read by the whitelisting VM in pickle.h), `<root>/data/<key>` raw storages, `<root>/version`,
// and since torch 2.1 `<root>/byteorder` ("little" required) and `<root>/.data/serialization_id`.
// The root folder is taken from the data.pkl entry, not from the file name.
//
// The pickled object must be a dict; nested dicts are flattened with '.' ("t3.speaker_emb").
// Tensors come back as zero-copy views into the mapped zip when contiguous and aligned, otherwise
// as owned contiguous copies. Non-tensor leaves (None, bool, int, float, str, lists, tuples) are
// exposed through values().

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "weights/mapped_file.h"
#include "weights/pickle.h"
#include "weights/tensor_file.h"

namespace chatterd {

class TorchPtFile final : public TensorFile {
 public:
  static std::unique_ptr<TorchPtFile> open(const std::filesystem::path& path);
  static std::unique_ptr<TorchPtFile> from_mapping(std::shared_ptr<const MappedFile> file);

  const std::filesystem::path& path() const override { return file_->path(); }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  bool contains(std::string_view name) const override;
  Tensor get(std::string_view name) const override;

  // Non-tensor leaves by flattened name (e.g. "t3.clap_emb" -> None). Pointers stay valid for the
  // lifetime of this object.
  const std::map<std::string, const PickleValue*, std::less<>>& values() const { return values_; }
  // The whole pickled object.
  const PickleValue& root() const { return pickle_->root(); }

 private:
  explicit TorchPtFile(std::shared_ptr<const MappedFile> file);
  void parse();

  struct Record {
    std::size_t info_index = 0;
    std::size_t storage_offset = 0;   // absolute file offset of the storage's first byte
    std::int64_t element_offset = 0;  // tensor's offset into the storage, in elements
    std::vector<std::int64_t> strides;
    bool contiguous = true;
  };
  class Builder;

  std::shared_ptr<const MappedFile> file_;
  std::unique_ptr<Pickle> pickle_;
  std::vector<TensorInfo> infos_;
  std::unordered_map<std::string, Record> records_;
  std::map<std::string, const PickleValue*, std::less<>> values_;
};

}  // namespace chatterd
