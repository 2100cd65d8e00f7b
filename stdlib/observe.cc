// decoder() and observe.stdout/observe.stderr: how a service's output becomes events.
#include "stdlib/observe.h"

#include "stdlib/builtins.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

std::string_view DecoderValue::type_name() const { return "decoder"; }
bool DecoderValue::attr(const Value&, std::string_view attr_name, Value& out) const {
  if (attr_name == "name") return out = vm::make_string(name), true;
  return false;
}
std::vector<std::string> DecoderValue::attr_names() const { return {"name"}; }
void DecoderValue::repr(std::string& out) const {
  out += "decoder(\"" + name + "\"";
  if (!pattern.empty()) out += ", pattern=" + vm::repr(vm::make_string(pattern));
  out += ")";
}

std::string_view ObserveValue::type_name() const { return "observe_source"; }
bool ObserveValue::attr(const Value&, std::string_view name, Value& out) const {
  if (name == "stream") return out = vm::make_string(observation.stream), true;
  return false;
}
std::vector<std::string> ObserveValue::attr_names() const { return {"stream"}; }
void ObserveValue::repr(std::string& out) const {
  out += "observe." + observation.stream + "(" + decoder_text + ")";
}

namespace {

bool decoder_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.size() != 1 || !a.positional[0].is(vm::Type::kString))
    return t.fail("decoder: give its name, one of \"json\", \"logfmt\" or \"regex\"");
  std::string name = vm::str(a.positional[0]);
  runtime::LineDecoder::Kind kind;
  if (name == "json") {
    kind = runtime::LineDecoder::Kind::kJson;
  } else if (name == "logfmt") {
    kind = runtime::LineDecoder::Kind::kLogfmt;
  } else if (name == "regex") {
    kind = runtime::LineDecoder::Kind::kRegex;
  } else {
    return t.fail("decoder: unknown decoder \"" + name + "\" (json, logfmt or regex)");
  }
  std::string pattern;
  for (auto& [key, v] : a.keywords) {
    if (key != "pattern" || kind != runtime::LineDecoder::Kind::kRegex)
      return t.fail("decoder: " + std::string(key) + "= is not a keyword of decoder(\"" + name +
                    "\")" + (key == "pattern" ? " (only regex takes a pattern)" : ""));
    if (!v.is(vm::Type::kString))
      return t.fail("decoder: pattern must be a string, got " + std::string(vm::type_of(v)));
    pattern = vm::str(v);
  }
  if (kind == runtime::LineDecoder::Kind::kRegex && pattern.empty())
    return t.fail("decoder: regex needs pattern=, with named groups like (?P<level>\\w+)");
  std::string error;
  auto decoder = runtime::LineDecoder::make(kind, pattern, error);
  if (!decoder) return t.fail("decoder: pattern: " + error);
  auto* value = new DecoderValue();
  r = Value::adopt(value);
  value->name = name;
  value->pattern = pattern;
  value->decoder = std::make_shared<const runtime::LineDecoder>(std::move(*decoder));
  return true;
}

bool observe_stream(Thread& t, Args& a, Value& r, const std::string& stream) {
  std::string fn = "observe." + stream;
  if (!a.positional.empty())
    return t.fail(fn + ": takes only decoder=, like " + fn + "(decoder=decoder(\"json\"))");
  Value decoder;
  if (!vm::unpack(t, fn, a, {{"decoder?", &decoder}})) return false;
  auto* value = new ObserveValue();
  r = Value::adopt(value);
  value->observation.stream = stream;
  if (decoder.is(vm::Type::kNone)) {
    std::string unused;
    value->observation.decoder = std::make_shared<const runtime::LineDecoder>(
        *runtime::LineDecoder::make(runtime::LineDecoder::Kind::kRaw, "", unused));
    return true;
  }
  if (!decoder.is(vm::Type::kHost) || vm::type_of(decoder) != "decoder")
    return t.fail(fn +
                  ": decoder must be decoder(\"json\"), decoder(\"logfmt\") or "
                  "decoder(\"regex\", pattern=...), got " +
                  std::string(vm::type_of(decoder)));
  value->observation.decoder = decoder.as<DecoderValue>()->decoder;
  value->decoder_text = "decoder=" + vm::repr(decoder);
  return true;
}

bool observe_stdout(Thread& t, const Value&, Args& a, Value& r) {
  return observe_stream(t, a, r, "stdout");
}
bool observe_stderr(Thread& t, const Value&, Args& a, Value& r) {
  return observe_stream(t, a, r, "stderr");
}

}  // namespace

void add_observe(const std::function<void(std::string_view, vm::NativeFn)>& add,
                 const std::function<void(std::string_view, vm::Value)>& add_value) {
  add("decoder", decoder_fn);
  add_value("observe",
            namespace_value("observe", {{"stdout", observe_stdout}, {"stderr", observe_stderr}}));
}

}  // namespace fb::stdlib
