#include "compiler/plan.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <deque>
#include <set>

namespace fb::plan {

namespace {

using Fact = ir::StaticFact;

/// The offsets where each line of each file starts, so that a location is a lookup.
using LineStarts = std::vector<std::vector<std::uint32_t>>;

LineStarts line_starts(const ir::Module& m) {
  LineStarts starts(m.files.size());
  for (std::size_t f = 0; f < m.files.size(); ++f) {
    starts[f].push_back(0);
    const std::string& text = m.files[f].text;
    for (std::uint32_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts[f].push_back(i + 1);
  }
  return starts;
}

/// file:line:col of a span.
std::string location(const ir::Module& m, const LineStarts& starts, const ir::Span& span) {
  if (span.file >= m.files.size()) return "?";
  const auto& lines = starts[span.file];
  auto after = std::upper_bound(lines.begin(), lines.end(), span.offset);
  auto line = static_cast<std::uint32_t>(after - lines.begin());
  std::uint32_t col = span.offset - *(after - 1) + 1;
  return m.files[span.file].path + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string_view source_of(const ir::Module& m, const ir::Span& span) {
  if (span.file >= m.files.size()) return {};
  const std::string& text = m.files[span.file].text;
  if (span.offset > text.size()) return {};
  return std::string_view(text).substr(span.offset, span.length);
}

/// The top-level arguments of a call's source text, as written: brackets and strings
/// are respected, so `choose("n", [1, 2])` gives `"n"` and `[1, 2]`.
std::vector<std::string> argument_texts(std::string_view call) {
  std::vector<std::string> out;
  auto open = call.find('(');
  if (open == std::string_view::npos) return out;
  int depth = 0;
  char quote = 0;
  std::string current;
  for (std::size_t i = open + 1; i < call.size(); ++i) {
    char c = call[i];
    if (quote) {
      current += c;
      if (c == '\\' && i + 1 < call.size())
        current += call[++i];
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) {
      out.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  out.push_back(current);
  for (auto& a : out) {
    auto first = a.find_first_not_of(" \t\n");
    auto last = a.find_last_not_of(" \t\n");
    a = first == std::string::npos ? "" : a.substr(first, last - first + 1);
  }
  std::erase_if(out, [](const std::string& a) { return a.empty(); });
  return out;
}

const Fact::Arg* keyword(const Fact& f, std::string_view name) {
  for (const auto& a : f.args)
    if (a.keyword == name) return &a;
  return nullptr;
}

std::vector<const Fact::Arg*> positionals(const Fact& f) {
  std::vector<const Fact::Arg*> out;
  for (const auto& a : f.args)
    if (a.keyword.empty()) out.push_back(&a);
  return out;
}

/// The functions a test body can run: itself, the functions defined in it, and the
/// global functions any of those names, transitively.
std::set<std::uint32_t> reach(const ir::Module& m, std::uint32_t start, const Globals& globals) {
  std::set<std::uint32_t> seen{start};
  std::deque<std::uint32_t> work{start};
  while (!work.empty()) {
    std::uint32_t f = work.front();
    work.pop_front();
    if (f >= m.functions.size()) continue;
    for (ir::Instr instr : m.functions[f].code) {
      std::optional<std::uint32_t> next;
      if (ir::opcode(instr) == ir::Op::MAKE_FUNC) next = ir::operand(instr);
      if (ir::opcode(instr) == ir::Op::GLOBAL && ir::operand(instr) < m.globals.size() &&
          globals.function)
        next = globals.function(m.globals[ir::operand(instr)]);
      if (next && seen.insert(*next).second) work.push_back(*next);
    }
  }
  return seen;
}

/// A probability as the spec writes it ("20%", 20, 0.2): a number above 1 is a
/// percentage. nullopt when it is not a literal.
std::optional<double> literal_probability(const Fact::Arg& a) {
  if (!a.literal) return std::nullopt;
  double p = 0;
  switch (a.value.kind) {
    case ir::Constant::Kind::kInt: p = static_cast<double>(a.value.int_value); break;
    case ir::Constant::Kind::kFloat: p = a.value.float_value; break;
    case ir::Constant::Kind::kString: {
      std::string text = a.value.text;
      if (!text.empty() && text.back() == '%') text.pop_back();
      char* end = nullptr;
      p = std::strtod(text.c_str(), &end);
      if (text.empty() || *end) return std::nullopt;
      break;
    }
    default: return std::nullopt;
  }
  return p > 1 ? p / 100 : p;
}

struct Walker {
  const ir::Module& m;
  const LineStarts& lines;
  const Globals& globals;
  TestPlan& test;
  std::set<std::string> names;

  void add(Axis axis) {
    if (axis.cardinality < 2 || !names.insert(axis.name).second) return;
    test.axes.push_back(std::move(axis));
  }
  void dynamic(const Fact& f, std::string why) {
    test.dynamic.push_back({location(m, lines, f.span), std::move(why)});
  }

  /// The service a fault call aims at, "*" when it is computed.
  void note_fault(const Fact& f) {
    auto target = positionals(f);
    std::string service;
    if (f.builtin != "fault_all" && !target.empty() && !target[0]->literal &&
        target[0]->shape.starts_with("name ") && globals.service)
      service = globals.service(target[0]->shape.substr(5));
    if (service.empty() && !target.empty() && !target[0]->literal &&
        target[0]->shape.starts_with("name ") && globals.assumption) {
      // fault(assumption, run=...): its services and sites come with the assumption.
      if (auto facts = globals.assumption(target[0]->shape.substr(5))) {
        test.faulted.insert(facts->faulted.begin(), facts->faulted.end());
        test.connect_faulted.insert(facts->connect_faulted.begin(), facts->connect_faulted.end());
        for (auto axis : facts->axes) {
          axis.site = location(m, lines, f.span);
          add(std::move(axis));
        }
        return;
      }
    }
    if (service.empty()) service = "*";
    test.faulted.insert(service);
    for (const auto& a : f.args)
      if (a.keyword == "connect") test.connect_faulted.insert(service);
  }

  /// parallel(f1, ..., fK, interleavings=...): K! orderings for "all", the first N for
  /// N, the first 2K-1 for "critical". Named by the call's '(' as the VM names it.
  void parallel(const Fact& f) {
    const auto* policy = keyword(f, "interleavings");
    if (!policy) return;
    std::uint64_t k = 0;
    for (const auto& a : f.args) {
      if (a.keyword == "*") {
        dynamic(f, "the functions of this parallel() are computed (*args)");
        return;
      }
      if (a.keyword.empty()) ++k;
    }
    if (!policy->literal) {
      dynamic(f, "the interleavings= of this parallel() is computed");
      return;
    }
    std::uint64_t all = 1;
    bool big = false;
    for (std::uint64_t i = 2; i <= k; ++i) all = saturating_product(all, i, big);
    std::uint64_t count = 1;
    if (policy->value.kind == ir::Constant::Kind::kInt && policy->value.int_value > 0)
      count = std::min<std::uint64_t>(static_cast<std::uint64_t>(policy->value.int_value), all);
    else if (policy->value.kind == ir::Constant::Kind::kString && policy->value.text == "all")
      count = all;
    else if (policy->value.kind == ir::Constant::Kind::kString && policy->value.text == "critical")
      count = std::min<std::uint64_t>(2 * k - 1, all);
    if (count < 2) return;
    std::string_view text = source_of(m, f.span);
    ir::Span paren = f.span;
    if (auto at = text.find('('); at != std::string_view::npos)
      paren.offset += static_cast<std::uint32_t>(at);
    Axis axis;
    axis.kind = Axis::Kind::kInterleaving;
    axis.name = "parallel@" + location(m, lines, paren);
    axis.cardinality = count;
    axis.options = std::to_string(count) + " orderings of " + std::to_string(k) + " branches";
    axis.site = location(m, lines, f.span);
    add(std::move(axis));
  }

  void choose(const Fact& f) {
    auto args = positionals(f);
    if (args.size() != 2) return;  // anonymous: option 0, never an axis
    const auto& name = *args[0];
    const auto& options = *args[1];
    if (!name.literal || name.value.kind != ir::Constant::Kind::kString) {
      dynamic(f, "a choose() name is computed");
      return;
    }
    std::optional<std::uint64_t> count;
    const std::string& shape = options.shape;
    auto bracket = shape.find('[');
    if (!options.literal && (shape.starts_with("list[") || shape.starts_with("range[")))
      count = std::strtoull(shape.c_str() + bracket + 1, nullptr, 10);
    else if (!options.literal && shape.starts_with("name ") && globals.list_length)
      count = globals.list_length(shape.substr(5));
    if (!count) {
      dynamic(f, "the option list of choose(\"" + name.value.text + "\") is computed");
      return;
    }
    auto texts = argument_texts(source_of(m, f.span));
    Axis axis;
    axis.kind = Axis::Kind::kChoose;
    axis.name = name.value.text;
    axis.cardinality = *count;
    axis.options = texts.size() == 2 ? texts[1] : std::to_string(*count) + " options";
    axis.site = location(m, lines, f.span);
    add(std::move(axis));
  }

  /// The fault call whose keyword holds this deny/delay, and that keyword.
  const Fact* enclosing_fault(const Fact& rule, std::string& key) const {
    const Fact* best = nullptr;
    for (const auto& f : m.facts) {
      if (f.builtin != "fault" && f.builtin != "fault_start" && f.builtin != "fault_all") continue;
      if (f.span.file != rule.span.file || f.span.offset > rule.span.offset ||
          f.span.offset + f.span.length < rule.span.offset + rule.span.length)
        continue;
      if (!best || f.span.offset > best->span.offset) best = &f;
    }
    if (!best) return nullptr;
    // The keyword is the name just before `=` in front of the rule's call.
    std::string_view text = source_of(m, best->span);
    std::size_t at = rule.span.offset - best->span.offset;
    std::size_t i = text.substr(0, at).find_last_not_of(" \t\n");
    if (i == std::string_view::npos || text[i] != '=') return nullptr;
    std::size_t end = text.substr(0, i).find_last_not_of(" \t\n");
    if (end == std::string_view::npos) return nullptr;
    std::size_t begin = end + 1;
    while (begin > 0 &&
           (std::isalnum(static_cast<unsigned char>(text[begin - 1])) || text[begin - 1] == '_'))
      --begin;
    key = std::string(text.substr(begin, end + 1 - begin));
    return key.empty() ? nullptr : best;
  }

  void probability(const Fact& f) {
    const auto* max_fires = keyword(f, "max_fires");
    if (!max_fires) return;
    if (const auto* mode = keyword(f, "mode")) {
      if (!mode->literal) {
        dynamic(f, "the mode of " + f.builtin + "() is computed");
        return;
      }
      if (mode->value.text == "stochastic") return;
    }
    const auto* prob = keyword(f, "probability");
    if (!prob) return;  // probability 1: max_fires= is refused when it runs
    auto p = literal_probability(*prob);
    if (!max_fires->literal || max_fires->value.kind != ir::Constant::Kind::kInt || !p) {
      dynamic(f, "the max_fires= or probability= of " + f.builtin + "() is computed");
      return;
    }
    if (*p >= 1.0 || max_fires->value.int_value <= 0 || max_fires->value.int_value > 62) return;
    Axis axis;
    axis.kind = Axis::Kind::kProbability;
    auto n = static_cast<std::uint64_t>(max_fires->value.int_value);
    axis.cardinality = std::uint64_t{1} << n;
    axis.options = "2^" + std::to_string(n) + " (max_fires=" + std::to_string(n) + ")";
    axis.site = location(m, lines, f.span);
    if (const auto* label = keyword(f, "label"); label && label->literal) {
      axis.name = label->value.text;
    } else {
      std::string key;
      const Fact* fault = enclosing_fault(f, key);
      auto target = fault ? positionals(*fault) : std::vector<const Fact::Arg*>{};
      std::string service;
      if (fault && fault->builtin != "fault_all" && !target.empty() && !target[0]->literal &&
          target[0]->shape.starts_with("name ") && globals.service)
        service = globals.service(target[0]->shape.substr(5));
      if (service.empty()) {
        dynamic(f, "the service or keyword of this " + f.builtin +
                       "() site is computed (a label= names the site statically)");
        return;
      }
      axis.name = service + ":" + key;
    }
    add(std::move(axis));
  }
};

/// A test's instances, the product of its axes, added to the plan's total (both
/// saturating).
void count(Plan& plan, TestPlan& test) {
  test.instances = 1;
  for (const auto& axis : test.axes)
    test.instances = saturating_product(test.instances, axis.cardinality, plan.saturated);
  if (UINT64_MAX - plan.instances < test.instances) {
    plan.saturated = true;
    plan.instances = UINT64_MAX;
  } else {
    plan.instances += test.instances;
  }
}

}  // namespace

Plan make_plan(const ir::Module& m, const std::vector<TestEntry>& tests, const Globals& globals) {
  Plan plan;
  LineStarts lines = line_starts(m);
  // Facts in source order, which is the order axes are numbered in.
  std::vector<const Fact*> facts;
  for (const auto& f : m.facts) facts.push_back(&f);
  std::stable_sort(facts.begin(), facts.end(), [](const Fact* a, const Fact* b) {
    return a->span.file != b->span.file ? a->span.file < b->span.file
                                        : a->span.offset < b->span.offset;
  });
  for (const auto& entry : tests) {
    TestPlan test;
    test.name = entry.name;
    test.kind = entry.kind;
    test.details = entry.details;
    test.faulted = entry.faulted;
    test.connect_faulted = entry.connect_faulted;
    if (entry.function >= m.functions.size()) {
      test.dynamic.push_back({entry.name,
                              "its body is not in this file (a load()ed module or a "
                              "builtin), so its axes are found when it runs"});
      plan.at_least = true;
      test.axes = entry.axes;
      count(plan, test);
      plan.tests.push_back(std::move(test));
      continue;
    }
    auto reachable = reach(m, entry.function, globals);
    Walker walker{m, lines, globals, test, {}};
    for (const auto& axis : entry.axes) walker.add(axis);
    for (const Fact* f : facts) {
      if (!reachable.count(f->function)) continue;
      if (f->builtin == "choose") walker.choose(*f);
      if (f->builtin == "parallel") walker.parallel(*f);
      if (f->builtin == "fault" || f->builtin == "fault_start" || f->builtin == "fault_all")
        walker.note_fault(*f);
      if (f->builtin == "deny" || f->builtin == "delay") walker.probability(*f);
    }
    plan.at_least |= test.at_least();
    count(plan, test);
    plan.tests.push_back(std::move(test));
  }
  return plan;
}

void prepend_axes(Plan& plan, const std::vector<Axis>& top_level) {
  if (top_level.empty()) return;
  plan.instances = 0;
  plan.saturated = false;
  for (auto& test : plan.tests) {
    std::vector<Axis> axes = top_level;
    for (auto& axis : test.axes)
      if (std::none_of(top_level.begin(), top_level.end(),
                       [&](const Axis& a) { return a.name == axis.name; }))
        axes.push_back(std::move(axis));
    test.axes = std::move(axes);
    count(plan, test);
  }
}

std::vector<Edge> coverage(const Plan& plan,
                           const std::vector<std::pair<std::string, std::string>>& depends_on,
                           const std::vector<std::pair<std::string, std::string>>& env_edges) {
  std::vector<Edge> edges;
  auto add = [&](const std::pair<std::string, std::string>& e, const char* via) {
    for (const auto& existing : edges)
      if (existing.from == e.first && existing.to == e.second) return;
    edges.push_back({e.first, e.second, via, {}});
  };
  for (const auto& e : depends_on) add(e, "depends_on");
  for (const auto& e : env_edges) add(e, "env");
  for (auto& edge : edges)
    for (const auto& t : plan.tests)
      if (t.faulted.count(edge.to) || t.connect_faulted.count(edge.from))
        edge.tests.push_back(t.name);
  return edges;
}

std::uint64_t saturating_product(std::uint64_t a, std::uint64_t b, bool& saturated) {
  if (a != 0 && b > UINT64_MAX / a) {
    saturated = true;
    return UINT64_MAX;
  }
  return a * b;
}

std::vector<std::uint64_t> leaf_digits(std::uint64_t leaf,
                                       const std::vector<std::uint64_t>& cardinalities) {
  std::vector<std::uint64_t> digits;
  for (std::uint64_t cardinality : cardinalities) {
    digits.push_back(leaf % cardinality);
    leaf /= cardinality;
  }
  return digits;
}

std::vector<std::uint64_t> leaf_digits(std::uint64_t leaf, const std::vector<Axis>& axes) {
  std::vector<std::uint64_t> cardinalities;
  for (const auto& axis : axes) cardinalities.push_back(axis.cardinality);
  return leaf_digits(leaf, cardinalities);
}

namespace {

std::string count_text(std::uint64_t n, bool saturated) {
  return saturated && n == UINT64_MAX ? "more than 18446744073709551615" : std::to_string(n);
}

}  // namespace

std::string render_text(const Plan& plan, const std::string& spec,
                        std::optional<std::uint64_t> seed) {
  std::string out = "Spec: " + spec +
                    "\nSeed: " + (seed ? std::to_string(*seed) : std::string("(unseeded)")) +
                    "\n\nPlan tree:\n";
  out += "└── " + std::to_string(plan.tests.size()) + " test" +
         (plan.tests.size() == 1 ? "" : "s") + "\n";
  for (std::size_t t = 0; t < plan.tests.size(); ++t) {
    const TestPlan& test = plan.tests[t];
    bool last_test = t + 1 == plan.tests.size();
    out += std::string("    ") + (last_test ? "└── " : "├── ") + "test \"" + test.name + "\"  [" +
           test.kind + "]\n";
    std::string in = last_test ? "        " : "    │   ";
    // The children: the count, then the axes by kind, then the dynamic sites.
    std::vector<std::string> children;
    if (!test.axes.empty() || test.at_least())
      children.push_back((test.at_least() ? "at least " : "") +
                         count_text(test.instances, plan.saturated) + " instances");
    for (const auto& [key, value] : test.details) children.push_back(key + ": " + value);
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (auto kind : {Axis::Kind::kChoose, Axis::Kind::kProbability, Axis::Kind::kInterleaving}) {
      std::vector<std::string> lines;
      for (const auto& a : test.axes)
        if (a.kind == kind)
          lines.push_back(a.name + ": " + a.options + (a.top_level ? "  (top level)" : ""));
      if (!lines.empty())
        groups.emplace_back(kind == Axis::Kind::kChoose        ? "choose"
                            : kind == Axis::Kind::kProbability ? "probability"
                                                               : "interleavings",
                            lines);
    }
    std::vector<std::string> dynamic;
    for (const auto& d : test.dynamic) dynamic.push_back(d.site + ": " + d.why);
    if (!dynamic.empty()) groups.emplace_back("computed (counted as 1)", dynamic);
    std::size_t total = children.size() + groups.size(), k = 0;
    for (const auto& c : children) out += in + (++k == total ? "└── " : "├── ") + c + "\n";
    for (const auto& [title, lines] : groups) {
      bool last = ++k == total;
      out += in + (last ? "└── " : "├── ") + title + "\n";
      for (std::size_t i = 0; i < lines.size(); ++i)
        out += in + (last ? "    " : "│   ") + (i + 1 == lines.size() ? "└── " : "├── ") +
               lines[i] + "\n";
    }
  }
  out += "\nTotal: " + std::string(plan.at_least ? "at least " : "") +
         count_text(plan.instances, plan.saturated) + " plan instances\n";
  if (plan.at_least)
    out +=
        "  (some sites are computed, so their size is not knowable without running the "
        "spec; each counts as 1)\n";
  std::string names;
  for (const auto& s : plan.services) names += (names.empty() ? "" : ", ") + s;
  out += "Services: " + std::to_string(plan.services.size()) +
         (names.empty() ? "" : " (" + names + ")") + "\n";
  return out;
}

std::string render_dot(const Plan& plan) {
  auto quote = [](const std::string& s) {  // "\n" in a label is DOT's line break
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string out = "digraph plan {\n  rankdir=LR;\n  spec [shape=box];\n";
  for (const auto& test : plan.tests) {
    std::string id = quote(test.name);
    out += "  spec -> " + id + ";\n";
    out += "  " + id + " [shape=box, label=" +
           quote(test.name + "\\n" + (test.at_least() ? "at least " : "") +
                 std::to_string(test.instances) + " instances") +
           "];\n";
    for (const auto& axis : test.axes) {
      std::string node = quote(test.name + "/" + axis.name);
      out += "  " + id + " -> " + node + ";\n";
      out += "  " + node +
             " [label=" + quote(axis.name + " (" + std::to_string(axis.cardinality) + ")") + "];\n";
    }
  }
  return out + "}\n";
}

}  // namespace fb::plan
