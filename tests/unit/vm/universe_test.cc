// Every Starlark universe function the frontend knows (vm/universe.def) is implemented.
#include <gtest/gtest.h>

#include "compiler/builtins.h"
#include "vm/methods.h"

namespace fb {
namespace {

TEST(Universe, EveryDeclaredFunctionIsImplemented) {
  std::size_t checked = 0;
  for (const auto& sig : compiler::BuiltinTable::get().all()) {
    if (sig.origin != compiler::Signature::Origin::kUniverse || !sig.callable) continue;
    EXPECT_FALSE(vm::universe_value(sig.name).is(vm::Type::kNone))
        << sig.name << " is declared but not implemented";
    ++checked;
  }
  EXPECT_GE(checked, 30u);
}

}  // namespace
}  // namespace fb
