#include "weights/pickle.h"

#include <gtest/gtest.h>

#include <string>

#include "chatterd/core/error.h"
#include "unit/weights/expect_error.h"
#include "unit/weights/test_files.h"

namespace chatterd {
namespace {

using testing::Bytes;
using testing::PickleWriter;
using K = PickleValue::Kind;

TEST(Pickle, Protocol4OpcodesBuildTheValueTree) {
  PickleWriter p;
  p.proto(4).op(static_cast<unsigned char>(0x95)).raw(0, 8);        // FRAME
  p.op('}').op(static_cast<unsigned char>(0x94));                   // MEMOIZE -> 0
  p.op(static_cast<unsigned char>(0x8c)).raw(1, 1).op('a');         // SHORT_BINUNICODE 'a'
  p.op(static_cast<unsigned char>(0x8a)).raw(2, 1).raw(0xff7f, 2);  // LONG1 -129
  p.op('s');
  p.str("b").op('G').raw(0x000000000000f83fULL, 8);  // BINFLOAT 1.5, big-endian bytes
  p.op('s');
  p.str("c").str("collections").str("OrderedDict").op(static_cast<unsigned char>(0x93));
  p.op(')').op('R').op('s');  // STACK_GLOBAL + REDUCE -> empty dict
  p.str("d").op(']').op('(').integer(-5).integer(70000).op(static_cast<unsigned char>(0x88));
  p.op('e').op('s');                                                          // [-5, 70000, True]
  p.str("e").op('h').raw(0, 1).op(static_cast<unsigned char>(0x85)).op('s');  // (memo 0,)
  p.op('.');
  const Bytes b = p.bytes();
  const Pickle pk(b, "test.pkl");
  const PickleValue& root = pk.root();
  ASSERT_TRUE(root.is(K::Dict));
  ASSERT_EQ(root.items.size(), 10u);
  EXPECT_EQ(root.items[0]->str, "a");
  EXPECT_EQ(root.items[1]->integer, -129);
  EXPECT_EQ(root.items[3]->real, 1.5);
  EXPECT_TRUE(root.items[5]->is(K::Dict));
  const PickleValue& list = *root.items[7];
  ASSERT_EQ(list.items.size(), 3u);
  EXPECT_EQ(list.items[0]->integer, -5);
  EXPECT_EQ(list.items[1]->integer, 70000);
  EXPECT_TRUE(list.items[2]->boolean);
  EXPECT_EQ(root.items[9]->items[0], &root);  // memo shares, it does not copy
}

TEST(Pickle, MalformedStreamsAreModelFormatErrors) {
  struct Case {
    const char* label;
    Bytes bytes;
    const char* expect;
  };
  auto w = [] { return PickleWriter().proto(2); };
  const Case cases[] = {
      {"empty", Bytes{}, "truncated"},
      {"no_stop", w().op('N').bytes(), "truncated"},
      {"underflow", w().op('s').op('.').bytes(), "underflow"},
      {"bad_opcode", w().op('i').bytes(), "opcode 0x69"},
      {"unset_memo", w().op('h').raw(3, 1).op('.').bytes(), "memo key 3"},
      {"setitem_on_list", w().op(']').op('N').op('N').op('s').op('.').bytes(), "not a dict"},
      {"unknown_global", w().global("builtins", "eval").bytes(), "builtins.eval"},
      {"stack_global_nonstr", w().op('N').op('N').op(static_cast<unsigned char>(0x93)).bytes(),
       "two strings"},
      {"reduce_non_global", w().op('N').op(')').op('R').bytes(), "not a global"},
      {"huge_string", w().op('X').raw(0xffffffffu, 4).bytes(), "truncated"},
      {"bad_proto", PickleWriter().proto(9).bytes(), "protocol 9"},
      {"mark_missing", w().op('t').bytes(), "MARK"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    EXPECT_ERROR_WITH(Pickle(c.bytes, "bad.pkl"), ModelFormatError, {"bad.pkl", c.expect});
  }
}

TEST(Pickle, StackAndNestingAreBounded) {
  PickleWriter deep;
  deep.proto(2).op(')');  // then wrap it in a 1-tuple again and again
  for (int i = 0; i < Pickle::kMaxDepth; ++i) deep.op(static_cast<unsigned char>(0x85));
  EXPECT_ERROR_WITH(Pickle(deep.bytes(), "deep.pkl"), ModelFormatError, {"nested deeper"});
  PickleWriter wide;
  wide.proto(2);
  for (std::size_t i = 0; i <= Pickle::kMaxStack; ++i) wide.op('N');
  EXPECT_ERROR_WITH(Pickle(wide.bytes(), "wide.pkl"), ModelFormatError, {"stack exceeds"});
}

}  // namespace
}  // namespace chatterd
