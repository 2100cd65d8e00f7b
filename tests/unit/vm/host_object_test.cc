// Values made by the embedding program (vm::HostObject): type(), attributes, methods,
// repr, truth, identity, and the errors Starlark code gets from them.
#include <gtest/gtest.h>

#include "tests/unit/spec_run.h"
#include "vm/methods.h"
#include "vm/objects.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb {
namespace {

/// A host value with one field (name) and one method (greet).
struct Thing final : vm::HostObject {
  vm::Value name = vm::make_string("widget");
  std::string_view type_name() const override { return "thing"; }
  bool attr(const vm::Value& self, std::string_view attr, vm::Value& out) const override {
    if (attr == "name") return out = name, true;
    if (attr == "greet") return out = vm::Value::adopt(new vm::Builtin("greet", greet, self)), true;
    return false;
  }
  std::vector<std::string> attr_names() const override { return {"greet", "name"}; }
  void repr(std::string& out) const override { out += "<thing widget>"; }
  void freeze_values() override { vm::freeze(name); }
  static bool greet(vm::Thread& t, const vm::Value& self, vm::Args& a, vm::Value& r) {
    vm::Value who;
    if (!vm::unpack(t, "greet", a, {{"who", &who}})) return false;
    r = vm::make_string(vm::str(self.as<Thing>()->name) + " greets " + vm::str(who));
    return true;
  }
};

/// Runs `text` with the name `interface` bound to one Thing (any name the frontend knows
/// would do: the host hook is asked first).
std::unique_ptr<testing::SpecRun> run(const std::string& text) {
  vm::Value thing = vm::Value::adopt(new Thing());
  return testing::run_spec(
      text, [thing](std::string_view name) { return name == "interface" ? thing : vm::Value(); });
}

TEST(HostObject, LooksLikeAValueOfItsOwnType) {
  auto r = run(R"(
x = interface
kind = type(x)
name = x.name
greeting = x.greet("bob")
names = dir(x)
text = repr(x)
truthy = bool(x)
same = x == interface
has = hasattr(x, "name")
missing = hasattr(x, "nope")
got = getattr(x, "nope", "default")
)");
  ASSERT_TRUE(r->ok) << r->thread.error();
  EXPECT_EQ(vm::str(r->global("kind")), "thing");
  EXPECT_EQ(vm::str(r->global("name")), "widget");
  EXPECT_EQ(vm::str(r->global("greeting")), "widget greets bob");
  EXPECT_EQ(vm::repr(r->global("names")), R"(["greet", "name"])");
  EXPECT_EQ(vm::str(r->global("text")), "<thing widget>");
  EXPECT_TRUE(vm::truth(r->global("truthy")));
  EXPECT_TRUE(vm::truth(r->global("same")));
  EXPECT_TRUE(vm::truth(r->global("has")));
  EXPECT_FALSE(vm::truth(r->global("missing")));
  EXPECT_EQ(vm::str(r->global("got")), "default");
  EXPECT_TRUE(r->global("name").object()->frozen) << "frozen with the module";
}

TEST(HostObject, UnknownAttributesAndHashingAreErrors) {
  auto r = run("x = interface.nope\n");
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->thread.error(), "thing has no .nope field or method");
  r = run("d = {interface: 1}\n");
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->thread.error(), "unhashable type: thing");
}

}  // namespace
}  // namespace fb
