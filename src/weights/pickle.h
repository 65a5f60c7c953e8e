#pragma once
// A pickle VM SUBSET that only builds a value tree: it never imports, calls or executes anything.
// GLOBAL/STACK_GLOBAL resolve against a fixed whitelist (what torch.save writes for tensors and
// state dicts); anything else is a ModelFormatError naming module.name. REDUCE of
// collections.OrderedDict yields a Dict; REDUCE of any other whitelisted global yields a Call node
// the consumer interprets (torch_pt.cc rebuilds tensors from them). BINPERSID yields a
// PersistentId node. Stack, memo, mark depth and value nesting are bounded.

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatterd {

struct PickleValue {
  enum class Kind : std::uint8_t {
    None,
    Bool,
    Int,
    Float,
    String,        // str (also bytes, kept raw)
    Tuple,         // items
    List,          // items
    Dict,          // items = k0, v0, k1, v1, ... in insertion order
    Global,        // str = "module.name"
    Call,          // str = "module.name" of the callable, items = the argument tuple's items
    PersistentId,  // items[0] = the persistent id object
  };

  Kind kind = Kind::None;
  bool boolean = false;
  std::int64_t integer = 0;
  double real = 0.0;
  std::string str;
  std::vector<PickleValue*> items;
  int depth = 1;  // nesting height when last modified (bounded while parsing)

  bool is(Kind k) const { return kind == k; }
  std::string_view kind_name() const;
};

class Pickle {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr std::size_t kMaxStack = 1u << 16;
  static constexpr std::size_t kMaxMemo = 1u << 20;

  // Runs the VM over `bytes`; `source` names the stream in errors ("ckpt.pt:conds/data.pkl").
  // Throws ModelFormatError on any malformed or disallowed input.
  Pickle(std::span<const std::byte> bytes, std::string source);

  Pickle(const Pickle&) = delete;
  Pickle& operator=(const Pickle&) = delete;

  const PickleValue& root() const { return *root_; }
  const std::string& source() const { return source_; }

  // Globals the VM accepts.
  static bool allowed_global(std::string_view qualified_name);

 private:
  std::deque<PickleValue> nodes_;  // owns every node; stable addresses, no recursive destruction
  PickleValue* root_ = nullptr;
  std::string source_;

  friend class PickleMachine;
};

}  // namespace chatterd
