#include "weights/pickle.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <unordered_map>

#include "core/check.h"

namespace chatterd {
namespace {

// Exactly what torch.save emits for tensors and (ordered) state dicts. Storage types that
// chatterd cannot load (double, byte) are still accepted here so the .pt reader can name them.
constexpr std::array<std::string_view, 13> kAllowedGlobals = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch.FloatStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
    "torch.DoubleStorage",
};

}  // namespace

std::string_view PickleValue::kind_name() const {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Global:
      return "global";
    case Kind::Call:
      return "call";
    case Kind::PersistentId:
      return "persistent id";
  }
  return "?";
}

bool Pickle::allowed_global(std::string_view qualified_name) {
  return std::find(kAllowedGlobals.begin(), kAllowedGlobals.end(), qualified_name) !=
         kAllowedGlobals.end();
}

// The interpreter loop; a separate class so the Pickle object only carries the result.
class PickleMachine {
 public:
  PickleMachine(Pickle& out, std::span<const std::byte> bytes) : out_(out), b_(bytes) {}

  PickleValue* run() {
    while (true) {
      const std::size_t at = pos_;
      const auto op = static_cast<unsigned char>(take(1)[0]);
      if (op == '.') {  // STOP
        CHATTERD_CHECK(!stack_.empty(), ModelFormatError, "{}: STOP with an empty stack", src());
        return stack_.back();
      }
      step(op, at);
    }
  }

 private:
  const std::string& src() const { return out_.source_; }

  std::span<const std::byte> take(std::uint64_t n) {
    CHATTERD_CHECK(n <= b_.size() - pos_, ModelFormatError,
                   "{}: pickle truncated at byte {} (needs {} more, {} left)", src(), pos_, n,
                   b_.size() - pos_);
    auto s = b_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::uint64_t le(int n) {
    const auto s = take(static_cast<std::uint64_t>(n));
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i)
      v = (v << 8) | static_cast<std::uint64_t>(s[static_cast<std::size_t>(i)]);
    return v;
  }
  std::string take_string(std::uint64_t n) {
    const auto s = take(n);
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }
  std::string take_line() {
    const auto* begin = b_.data() + pos_;
    const auto* nl = std::find(begin, b_.data() + b_.size(), std::byte{'\n'});
    CHATTERD_CHECK(nl != b_.data() + b_.size(), ModelFormatError,
                   "{}: pickle truncated inside a GLOBAL name", src());
    std::string line(reinterpret_cast<const char*>(begin), static_cast<std::size_t>(nl - begin));
    pos_ += line.size() + 1;
    return line;
  }

  PickleValue* make(PickleValue::Kind kind) {
    PickleValue& v = out_.nodes_.emplace_back();
    v.kind = kind;
    return &v;
  }
  void push(PickleValue* v) {
    CHATTERD_CHECK(stack_.size() < Pickle::kMaxStack, ModelFormatError,
                   "{}: pickle stack exceeds {} entries", src(), Pickle::kMaxStack);
    stack_.push_back(v);
  }
  PickleValue* pop() {
    CHATTERD_CHECK(stack_.size() > base(), ModelFormatError,
                   "{}: pickle stack underflow at byte {}", src(), pos_);
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    CHATTERD_CHECK(stack_.size() > base(), ModelFormatError,
                   "{}: pickle stack underflow at byte {}", src(), pos_);
    return stack_.back();
  }
  std::size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  // Items above the innermost MARK, which is removed.
  std::vector<PickleValue*> pop_mark() {
    CHATTERD_CHECK(!marks_.empty(), ModelFormatError, "{}: pickle uses a MARK that was never set",
                   src());
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void add_child(PickleValue* parent, PickleValue* child) {
    parent->depth = std::max(parent->depth, child->depth + 1);
    CHATTERD_CHECK(parent->depth <= Pickle::kMaxDepth, ModelFormatError,
                   "{}: pickle values nested deeper than {}", src(), Pickle::kMaxDepth);
    parent->items.push_back(child);
  }
  PickleValue* make_seq(PickleValue::Kind kind, const std::vector<PickleValue*>& items) {
    PickleValue* v = make(kind);
    for (PickleValue* item : items) add_child(v, item);
    return v;
  }
  void set_items(PickleValue* dict, const std::vector<PickleValue*>& kv) {
    CHATTERD_CHECK(dict->is(PickleValue::Kind::Dict), ModelFormatError,
                   "{}: SETITEM(S) on a {}, not a dict", src(), dict->kind_name());
    CHATTERD_CHECK(kv.size() % 2 == 0, ModelFormatError, "{}: SETITEMS with an odd item count",
                   src());
    for (PickleValue* item : kv) add_child(dict, item);
  }
  void append(PickleValue* list, const std::vector<PickleValue*>& items) {
    CHATTERD_CHECK(list->is(PickleValue::Kind::List), ModelFormatError,
                   "{}: APPEND(S) on a {}, not a list", src(), list->kind_name());
    for (PickleValue* item : items) add_child(list, item);
  }
  void memo_put(std::uint64_t index, PickleValue* v) {
    CHATTERD_CHECK(memo_.size() < Pickle::kMaxMemo || memo_.count(index) != 0, ModelFormatError,
                   "{}: pickle memo exceeds {} entries", src(), Pickle::kMaxMemo);
    memo_[index] = v;
  }
  PickleValue* memo_get(std::uint64_t index) {
    const auto it = memo_.find(index);
    CHATTERD_CHECK(it != memo_.end(), ModelFormatError, "{}: pickle memo key {} was never set",
                   src(), index);
    return it->second;
  }
  void push_global(std::string module, std::string name) {
    std::string q = module + "." + name;
    CHATTERD_CHECK(Pickle::allowed_global(q), ModelFormatError,
                   "{}: pickle references global '{}', which is not allowed (only torch tensor and "
                   "state-dict types are)",
                   src(), q);
    PickleValue* v = make(PickleValue::Kind::Global);
    v->str = std::move(q);
    push(v);
  }
  void push_int(std::int64_t i) {
    PickleValue* v = make(PickleValue::Kind::Int);
    v->integer = i;
    push(v);
  }
  void push_string(std::string s) {
    PickleValue* v = make(PickleValue::Kind::String);
    v->str = std::move(s);
    push(v);
  }
  void reduce() {
    PickleValue* args = pop();
    PickleValue* fn = pop();
    CHATTERD_CHECK(fn->is(PickleValue::Kind::Global), ModelFormatError,
                   "{}: REDUCE calls a {}, not a global", src(), fn->kind_name());
    CHATTERD_CHECK(args->is(PickleValue::Kind::Tuple), ModelFormatError,
                   "{}: REDUCE of {} with {} arguments, not a tuple", src(), fn->str,
                   args->kind_name());
    if (fn->str == "collections.OrderedDict") {
      CHATTERD_CHECK(args->items.empty(), ModelFormatError,
                     "{}: OrderedDict built with arguments is not supported", src());
      push(make(PickleValue::Kind::Dict));
      return;
    }
    PickleValue* call = make_seq(PickleValue::Kind::Call, args->items);
    call->str = fn->str;
    push(call);
  }

  void step(unsigned char op, std::size_t at) {
    using K = PickleValue::Kind;
    switch (op) {
      case 0x80: {  // PROTO
        const auto proto = le(1);
        CHATTERD_CHECK(proto <= 5, ModelFormatError, "{}: unsupported pickle protocol {}", src(),
                       proto);
        break;
      }
      case 0x95:  // FRAME: a length hint only
        (void)le(8);
        break;
      case '}':
        push(make(K::Dict));
        break;
      case ']':
        push(make(K::List));
        break;
      case ')':
        push(make(K::Tuple));
        break;
      case '(':
        CHATTERD_CHECK(marks_.size() < Pickle::kMaxStack, ModelFormatError,
                       "{}: too many nested MARKs", src());
        marks_.push_back(stack_.size());
        break;
      case 't':
        push(make_seq(K::Tuple, pop_mark()));
        break;
      case 'l':
        push(make_seq(K::List, pop_mark()));
        break;
      case 'd': {
        PickleValue* d = make(K::Dict);
        set_items(d, pop_mark());
        push(d);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        const std::size_t n = op - 0x84u;
        std::vector<PickleValue*> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop();
        push(make_seq(K::Tuple, items));
        break;
      }
      case 's': {
        PickleValue* value = pop();
        PickleValue* key = pop();
        set_items(top(), {key, value});
        break;
      }
      case 'u': {
        const auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'a': {
        PickleValue* item = pop();
        append(top(), {item});
        break;
      }
      case 'e': {
        const auto items = pop_mark();
        append(top(), items);
        break;
      }
      case '0':  // POP
        (void)pop();
        break;
      case '1':  // POP_MARK
        (void)pop_mark();
        break;
      case 'q':
        memo_put(le(1), top());
        break;
      case 'r':
        memo_put(le(4), top());
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size(), top());
        break;
      case 'h':
        push(memo_get(le(1)));
        break;
      case 'j':
        push(memo_get(le(4)));
        break;
      case 'J':
        push_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4))));
        break;
      case 'K':
        push_int(static_cast<std::int64_t>(le(1)));
        break;
      case 'M':
        push_int(static_cast<std::int64_t>(le(2)));
        break;
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const auto n = le(1);
        CHATTERD_CHECK(n <= 8, ModelFormatError, "{}: LONG1 of {} bytes does not fit 64 bits",
                       src(), n);
        const auto s = take(n);
        std::uint64_t v = 0;
        for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<std::uint64_t>(s[i]);
        if (n > 0 && n < 8 && (static_cast<unsigned>(s[n - 1]) & 0x80u) != 0) {
          v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
        }
        push_int(static_cast<std::int64_t>(v));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const auto s = take(8);
        std::uint64_t bits = 0;
        for (std::size_t i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<std::uint64_t>(s[i]);
        PickleValue* v = make(K::Float);
        v->real = std::bit_cast<double>(bits);
        push(v);
        break;
      }
      case 'N':
        push(make(K::None));
        break;
      case 0x88:
      case 0x89: {
        PickleValue* v = make(K::Bool);
        v->boolean = op == 0x88;
        push(v);
        break;
      }
      case 'X':
      case 'B':
        push_string(take_string(le(4)));
        break;
      case 0x8c:
      case 'C':
        push_string(take_string(le(1)));
        break;
      case 0x8d:
      case 0x8e:
        push_string(take_string(le(8)));
        break;
      case 'c': {
        std::string module = take_line();
        std::string name = take_line();
        push_global(std::move(module), std::move(name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleValue* name = pop();
        PickleValue* module = pop();
        CHATTERD_CHECK(name->is(K::String) && module->is(K::String), ModelFormatError,
                       "{}: STACK_GLOBAL needs two strings", src());
        push_global(module->str, name->str);
        break;
      }
      case 'R':
        reduce();
        break;
      case 'b':  // BUILD: object state (OrderedDict._metadata, ...) is not needed; ignore it
        (void)pop();
        (void)top();
        break;
      case 'Q': {
        PickleValue* pid = pop();
        push(make_seq(K::PersistentId, {pid}));
        break;
      }
      default:
        CHATTERD_THROW(ModelFormatError, "{}: unsupported pickle opcode 0x{:02x} at byte {}", src(),
                       op, at);
    }
  }

  Pickle& out_;
  std::span<const std::byte> b_;
  std::size_t pos_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PickleValue*> memo_;
};

Pickle::Pickle(std::span<const std::byte> bytes, std::string source) : source_(std::move(source)) {
  PickleMachine machine(*this, bytes);
  root_ = machine.run();
}

}  // namespace chatterd
