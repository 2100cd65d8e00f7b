#include "ir/serialize.h"

#include <cstring>

namespace fb::ir {
namespace {

constexpr std::string_view kMagic = "FBC\n";

class Writer {
 public:
  void u(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void s(std::int64_t v) {
    u((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void f(double v) {
    char b[8];
    std::memcpy(b, &v, 8);
    out_.append(b, 8);
  }
  void str(std::string_view v) {
    u(v.size());
    out_.append(v);
  }
  void span(const Span& v) {
    u(v.file);
    u(v.offset);
    u(v.length);
  }
  void constant(const Constant& c) {
    u(static_cast<std::uint64_t>(c.kind));
    s(c.int_value);
    f(c.float_value);
    str(c.text);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

/// Reads with bounds checks; the first failure is remembered and later reads are no-ops.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(pos_);
  }

  std::uint64_t u() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail("truncated number"), 0;
      auto b = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("number too long");
    return 0;
  }
  std::uint32_t u32() {
    std::uint64_t v = u();
    if (v > UINT32_MAX) fail("number out of range");
    return static_cast<std::uint32_t>(v);
  }
  std::int64_t s() {
    std::uint64_t v = u();
    return static_cast<std::int64_t>((v >> 1) ^ (0 - (v & 1)));
  }
  double f() {
    if (in_.size() - pos_ < 8) return fail("truncated float"), 0.0;
    double v;
    std::memcpy(&v, in_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string str() {
    std::uint64_t n = u();
    if (n > in_.size() - pos_) return fail("string longer than the file"), std::string();
    std::string v(in_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  /// A count of items each taking at least `min_bytes`: rejects counts the rest of the
  /// file cannot hold before anything is allocated for them.
  std::size_t count(std::size_t min_bytes = 1) {
    std::uint64_t n = u();
    if (n > (in_.size() - pos_) / std::max<std::size_t>(min_bytes, 1))
      return fail("count larger than the file"), 0;
    return static_cast<std::size_t>(n);
  }
  Span span() {
    Span v;
    v.file = u32();
    v.offset = u32();
    v.length = u32();
    return v;
  }
  Constant constant() {
    Constant c;
    std::uint64_t kind = u();
    if (kind > static_cast<std::uint64_t>(Constant::Kind::kBytes)) fail("unknown constant kind");
    c.kind = static_cast<Constant::Kind>(kind);
    c.int_value = s();
    c.float_value = f();
    c.text = str();
    return c;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

void write_function(Writer& w, const Function& fn) {
  w.str(fn.name);
  w.span(fn.span);
  w.u(fn.params.size());
  for (const Param& p : fn.params) {
    w.u(static_cast<std::uint64_t>(p.kind));
    w.str(p.name);
    w.u(p.has_default ? 1 : 0);
  }
  w.u(fn.num_locals);
  w.u(fn.local_names.size());
  for (const auto& n : fn.local_names) w.str(n);
  w.u(fn.cells.size());
  for (auto c : fn.cells) w.u(c);
  w.u(fn.freevars.size());
  for (std::size_t i = 0; i < fn.freevars.size(); ++i) {
    w.str(fn.freevars[i]);
    w.u(fn.free_sources[i].from_cell ? 1 : 0);
    w.u(fn.free_sources[i].index);
  }
  w.u(fn.code.size());
  for (Instr i : fn.code) w.u(i);
  w.u(fn.pc_spans.size());
  for (const auto& [pc, span] : fn.pc_spans) {
    w.u(pc);
    w.span(span);
  }
  w.u(fn.max_stack);
}

Function read_function(Reader& r) {
  Function fn;
  fn.name = r.str();
  fn.span = r.span();
  std::size_t n = r.count(3);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    Param p;
    std::uint64_t kind = r.u();
    if (kind > static_cast<std::uint64_t>(Param::Kind::kKwargs)) r.fail("unknown parameter kind");
    p.kind = static_cast<Param::Kind>(kind);
    p.name = r.str();
    p.has_default = r.u() != 0;
    fn.params.push_back(std::move(p));
  }
  fn.num_locals = r.u32();
  n = r.count();
  for (std::size_t i = 0; i < n && r.ok(); ++i) fn.local_names.push_back(r.str());
  n = r.count();
  for (std::size_t i = 0; i < n && r.ok(); ++i) fn.cells.push_back(r.u32());
  n = r.count(3);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    fn.freevars.push_back(r.str());
    bool from_cell = r.u() != 0;
    fn.free_sources.push_back(FreeSource{from_cell, r.u32()});
  }
  n = r.count();
  for (std::size_t i = 0; i < n && r.ok(); ++i) fn.code.push_back(r.u32());
  n = r.count(4);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    std::uint32_t pc = r.u32();
    fn.pc_spans.emplace_back(pc, r.span());
  }
  fn.max_stack = r.u32();
  return fn;
}

}  // namespace

std::string serialize(const Module& m) {
  Writer w;
  std::string out(kMagic);
  w.u(kFormatVersion);
  w.u(m.files.size());
  for (const auto& f : m.files) {
    w.str(f.path);
    w.str(f.text);
  }
  w.u(m.constants.size());
  for (const auto& c : m.constants) w.constant(c);
  w.u(m.names.size());
  for (const auto& n : m.names) w.str(n);
  w.u(m.calls.size());
  for (const auto& c : m.calls) {
    w.u(c.positional);
    w.u(c.keywords.size());
    for (auto k : c.keywords) w.u(k);
    w.u((c.star ? 1 : 0) | (c.star_star ? 2 : 0));
  }
  w.u(m.loads.size());
  for (const auto& l : m.loads) {
    w.str(l.module);
    w.u(l.symbols.size());
    for (const auto& s : l.symbols) w.str(s);
    w.span(l.span);
  }
  w.u(m.functions.size());
  for (const auto& fn : m.functions) write_function(w, fn);
  w.u(m.globals.size());
  for (const auto& g : m.globals) w.str(g);
  w.u(m.facts.size());
  for (const auto& fact : m.facts) {
    w.str(fact.builtin);
    w.span(fact.span);
    w.u(fact.function);
    w.u(fact.args.size());
    for (const auto& a : fact.args) {
      w.str(a.keyword);
      w.u(a.literal ? 1 : 0);
      w.constant(a.value);
      w.str(a.shape);
    }
  }
  return out + w.take();
}

std::optional<Module> deserialize(std::string_view bytes, std::string& error) {
  if (!bytes.starts_with(kMagic)) {
    error = "not a faultbox bytecode file";
    return std::nullopt;
  }
  Reader r(bytes.substr(kMagic.size()));
  std::uint64_t version = r.u();
  if (r.ok() && version != kFormatVersion) {
    error = "written by bytecode format version " + std::to_string(version) +
            "; this faultbox reads version " + std::to_string(kFormatVersion) +
            " (recompile the spec)";
    return std::nullopt;
  }
  Module m;
  std::size_t n = r.count(2);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    std::string path = r.str();
    m.files.push_back(SourceText{std::move(path), r.str()});
  }
  n = r.count(11);
  for (std::size_t i = 0; i < n && r.ok(); ++i) m.constants.push_back(r.constant());
  n = r.count();
  for (std::size_t i = 0; i < n && r.ok(); ++i) m.names.push_back(r.str());
  n = r.count(3);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    CallSite c;
    c.positional = r.u32();
    std::size_t k = r.count();
    for (std::size_t j = 0; j < k && r.ok(); ++j) c.keywords.push_back(r.u32());
    std::uint64_t flags = r.u();
    c.star = flags & 1;
    c.star_star = flags & 2;
    m.calls.push_back(std::move(c));
  }
  n = r.count(5);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    LoadSite l;
    l.module = r.str();
    std::size_t k = r.count();
    for (std::size_t j = 0; j < k && r.ok(); ++j) l.symbols.push_back(r.str());
    l.span = r.span();
    m.loads.push_back(std::move(l));
  }
  n = r.count(10);
  for (std::size_t i = 0; i < n && r.ok(); ++i) m.functions.push_back(read_function(r));
  n = r.count();
  for (std::size_t i = 0; i < n && r.ok(); ++i) m.globals.push_back(r.str());
  n = r.count(8);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    StaticFact fact;
    fact.builtin = r.str();
    fact.span = r.span();
    fact.function = r.u32();
    std::size_t k = r.count(14);
    for (std::size_t j = 0; j < k && r.ok(); ++j) {
      StaticFact::Arg a;
      a.keyword = r.str();
      a.literal = r.u() != 0;
      a.value = r.constant();
      a.shape = r.str();
      fact.args.push_back(std::move(a));
    }
    m.facts.push_back(std::move(fact));
  }
  if (r.ok() && !r.at_end()) r.fail("unexpected data after the module");
  if (!r.ok()) {
    error = "corrupt bytecode file: " + r.error();
    return std::nullopt;
  }
  // Well-formed bytes are not yet well-formed code: only verified modules run.
  if (auto problems = verify(m); !problems.empty()) {
    error = "corrupt bytecode file: " + problems.front();
    return std::nullopt;
  }
  return m;
}

}  // namespace fb::ir
