#include "stdlib/session.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "vm/thread.h"

namespace fb::stdlib {

std::optional<std::uint64_t> Session::Run::meet(const Axis& axis, std::string& error) {
  auto same =
      std::find_if(axes.begin(), axes.end(), [&](const Axis& a) { return a.name == axis.name; });
  if (same == axes.end()) {
    axes.push_back(axis);
  } else if (same->cardinality != axis.cardinality || same->kind != axis.kind) {
    error = "the axis \"" + axis.name + "\" was met with " + std::to_string(same->cardinality) +
            " options and now with " + std::to_string(axis.cardinality) +
            "; give each choice its own name";
    return std::nullopt;
  }
  auto pin = pins.find(axis.name);
  std::uint64_t digit = pin == pins.end() ? 0 : pin->second;
  return digit < axis.cardinality ? digit : 0;
}

bool fail_assertion(vm::Thread& t, std::string_view fn, std::string message) {
  if (Session* s = Session::of(t); s && s->run && s->run->failed_assertion.empty())
    s->run->failed_assertion = std::string(fn);
  return t.fail(std::move(message));
}

const InterfaceDecl* ServiceDecl::find_interface(std::string_view wanted) const {
  for (const auto& i : interfaces)
    if (i.name == wanted) return &i;
  return nullptr;
}

Session* Session::of(vm::Thread& thread) { return static_cast<Session*>(thread.host); }

void Session::attach(vm::Thread& thread) { thread.host = this; }

const ServiceDecl* Session::find(std::string_view name) const {
  for (const auto& s : services)
    if (s.name == name) return &s;
  return nullptr;
}

bool want_name(vm::Thread& t, std::string_view fn, grammar::NameKind kind, std::string_view name) {
  std::string why = grammar::check_name(kind, name);
  return why.empty() || t.fail(std::string(fn) + ": " + why);
}

std::string env_name(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::pair<std::string, std::string>> Session::wiring() const {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& s : services) {
    for (const auto& i : s.interfaces) {
      std::string prefix = "FAULTBOX_" + env_name(s.name) + "_" + env_name(i.name) + "_";
      std::string port = std::to_string(i.port);
      env.emplace_back(prefix + "HOST", "localhost");
      env.emplace_back(prefix + "PORT", port);
      env.emplace_back(prefix + "ADDR", "localhost:" + port);
    }
  }
  return env;
}

std::optional<std::vector<const ServiceDecl*>> Session::start_order(std::string& error) const {
  enum class Mark { kNone, kVisiting, kDone };
  std::map<std::string, Mark, std::less<>> marks;
  std::vector<const ServiceDecl*> order;
  std::vector<std::string> path;  // the chain being visited, to name a cycle
  std::function<bool(const ServiceDecl&)> visit = [&](const ServiceDecl& s) {
    Mark& mark = marks[s.name];
    if (mark == Mark::kDone) return true;
    if (mark == Mark::kVisiting) {
      auto from = std::find(path.begin(), path.end(), s.name);
      std::string cycle;
      for (auto it = from; it != path.end(); ++it) cycle += *it + " -> ";
      error = "depends_on has a cycle: " + cycle + s.name;
      return false;
    }
    mark = Mark::kVisiting;
    path.push_back(s.name);
    for (const auto& dep : s.depends_on) {
      const ServiceDecl* d = find(dep);
      if (!d) {
        error = "service \"" + s.name + "\" depends on \"" + dep + "\", which is not declared";
        return false;
      }
      if (!visit(*d)) return false;
    }
    path.pop_back();
    marks[s.name] = Mark::kDone;
    order.push_back(&s);
    return true;
  };
  for (const auto& s : services)
    if (!visit(s)) return std::nullopt;
  return order;
}

}  // namespace fb::stdlib
