// `faultbox test` on the spec files under tests/spec/test (label: spec). Each file says
// in its header comment what must happen when it runs:
//
//   # expect-exit: N                     the exit status
//   # expect: PASS|FAIL|ERROR|HALTED|INCONCLUSIVE test_x[leaf=N]
//                                        a verdict; the report must hold exactly these
//                                        ([leaf=N] for a test with plan axes)
//   # expect-diagnostic: CODE [test_x]   a diagnostic of that test (or of the run)
//   # expect-no-diagnostic: test_x       that test has no diagnostic at all
//   # expect-absent: CODE [test_x]       no such diagnostic for that test (or the run)
//   # expect-stderr: TEXT                stderr contains TEXT
//   # expect-reason: test_x TEXT         that test's reason contains TEXT
//   # expect-message: test_x TEXT        one of that test's diagnostics says TEXT
//
// and its normalized trace must match tests/golden/test/NAME.trace (regenerate with
// FB_UPDATE_GOLDENS=1, or tools/update-goldens). "@PROBE@" in a spec stands for the
// probe program's path, "@SOURCE@" the source tree's. The specs pair every test that shows a fault
// working with a twin that must fail, so a passing test cannot be one that checks nothing.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/unit/cli/faultbox_process.h"
#include "tests/unit/test_support.h"

namespace {

namespace fs = std::filesystem;
using fb::testing::read_file;
using fb::testing::source_dir;

fs::path spec_dir() { return source_dir() / "tests/spec/test"; }
fs::path golden_dir() { return source_dir() / "tests/golden/test"; }

struct Expectations {
  int exit = -1;
  std::map<std::string, std::string> verdicts;               // test → PASS/FAIL/ERROR
  std::vector<std::pair<std::string, std::string>> present;  // (code, test or "")
  std::vector<std::string> quiet;                            // tests without diagnostics
  std::vector<std::pair<std::string, std::string>> absent;   // (code, test or "")
  std::vector<std::string> stderr_has;
  std::vector<std::pair<std::string, std::string>> reasons;   // (test, text in its reason)
  std::vector<std::pair<std::string, std::string>> messages;  // (test, text in a diagnostic)
};

Expectations read_expectations(const std::string& text) {
  Expectations e;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto value = [&](std::string_view key) -> std::optional<std::string> {
      std::string prefix = "# " + std::string(key) + ": ";
      if (!line.starts_with(prefix)) return std::nullopt;
      return line.substr(prefix.size());
    };
    if (auto v = value("expect-exit")) e.exit = std::stoi(*v);
    if (auto v = value("expect")) {
      auto space = v->find(' ');
      e.verdicts[v->substr(space + 1)] = v->substr(0, space);
    }
    if (auto v = value("expect-diagnostic")) {
      auto space = v->find(' ');
      e.present.emplace_back(v->substr(0, space),
                             space == std::string::npos ? "" : v->substr(space + 1));
    }
    if (auto v = value("expect-no-diagnostic")) e.quiet.push_back(*v);
    if (auto v = value("expect-absent")) {
      auto space = v->find(' ');
      e.absent.emplace_back(v->substr(0, space),
                            space == std::string::npos ? "" : v->substr(space + 1));
    }
    if (auto v = value("expect-stderr")) e.stderr_has.push_back(*v);
    if (auto v = value("expect-reason")) {
      auto space = v->find(' ');
      e.reasons.emplace_back(v->substr(0, space), v->substr(space + 1));
    }
    if (auto v = value("expect-message")) {
      auto space = v->find(' ');
      e.messages.emplace_back(v->substr(0, space), v->substr(space + 1));
    }
  }
  return e;
}

using fb::testing::Finished;

Finished run_faultbox(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "test");
  return fb::testing::run_in(dir, FB_FAULTBOX, std::move(args));
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

class SpecFile : public ::testing::TestWithParam<std::string> {};

TEST_P(SpecFile, VerdictsDiagnosticsAndTrace) {
  const std::string name = GetParam();
  std::string text = read_file(spec_dir() / (name + ".star"));
  Expectations expect = read_expectations(text);
  ASSERT_GE(expect.exit, 0) << name << ".star has no '# expect-exit:' line";

  fs::path dir = fs::temp_directory_path() / ("fb-spec-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / (name + ".star"))
      << replace_all(replace_all(text, "@PROBE@", FB_SUT_PROBE), "@SOURCE@", source_dir().string());
  Finished run = run_faultbox(dir, {name + ".star", "--seed", "7", "--output", "report.json",
                                    "--normalize", "trace.txt", "--logs", (dir / "logs").string()});
  std::string context =
      "faultbox test " + name + ".star\nstdout:\n" + run.out + "stderr:\n" + run.err;
  EXPECT_EQ(run.code, expect.exit) << context;
  for (const auto& s : expect.stderr_has)
    EXPECT_NE(run.err.find(s), std::string::npos) << "stderr lacks \"" << s << "\"\n" << context;

  if (expect.exit != 1) {
    ASSERT_TRUE(fs::exists(dir / "report.json")) << context;
    auto report = nlohmann::json::parse(read_file(dir / "report.json"));
    std::map<std::string, std::string> verdicts;
    std::map<std::string, std::set<std::string>> codes;  // test ("" for the run) → codes
    std::map<std::string, std::string> reasons;
    std::map<std::string, std::string> messages;  // test → its diagnostics' messages
    for (const auto& t : report["tests"]) {
      std::string verdict = t["result"].get<std::string>();
      std::transform(verdict.begin(), verdict.end(), verdict.begin(), ::toupper);
      // A test with plan axes is one entry per leaf: test_x[leaf=N].
      std::string shown = t["name"].get<std::string>();
      if (!t["choices"].empty()) shown += "[leaf=" + t["leaf_id"].get<std::string>() + "]";
      EXPECT_FALSE(verdicts.contains(shown)) << shown << " is reported twice\n" << context;
      verdicts[shown] = verdict;
      reasons[shown] = t["reason"].get<std::string>();
      auto& mine = codes[shown];
      for (const auto& d : t["diagnostics"]) {
        mine.insert(d["code"].get<std::string>());
        messages[shown] += d["message"].get<std::string>() + "\n";
      }
    }
    for (const auto& d : report["diagnostics"]) codes[""].insert(d["code"].get<std::string>());
    EXPECT_EQ(verdicts, expect.verdicts) << context;
    for (const auto& [code, test] : expect.present)
      EXPECT_TRUE(codes[test].contains(code))
          << "no " << code << " for " << (test.empty() ? "the run" : test) << "\n"
          << context;
    for (const auto& [code, test] : expect.absent)
      EXPECT_FALSE(codes[test].contains(code))
          << code << " for " << (test.empty() ? "the run" : test) << "\n"
          << context;
    for (const auto& [test, wanted] : expect.reasons)
      EXPECT_NE(reasons[test].find(wanted), std::string::npos)
          << test << "'s reason lacks \"" << wanted << "\": " << reasons[test] << "\n"
          << context;
    for (const auto& [test, wanted] : expect.messages)
      EXPECT_NE(messages[test].find(wanted), std::string::npos)
          << "no diagnostic of " << test << " says \"" << wanted << "\": " << messages[test] << "\n"
          << context;
    for (const auto& test : expect.quiet)
      EXPECT_TRUE(codes[test].empty()) << test << " has diagnostics\n" << context;

    std::string trace = read_file(dir / "trace.txt");
    fs::path golden = golden_dir() / (name + ".trace");
    if (std::getenv("FB_UPDATE_GOLDENS")) {
      fs::create_directories(golden_dir());
      std::ofstream(golden, std::ios::binary) << trace;
    } else {
      ASSERT_TRUE(fs::exists(golden)) << golden << " is missing; run tools/update-goldens";
      EXPECT_EQ(read_file(golden), trace)
          << "the normalized trace of " << name
          << ".star changed; if that is intended, run tools/update-goldens\n"
          << context;
    }
  }
  if (!HasFailure()) fs::remove_all(dir);
}

std::vector<std::string> cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(spec_dir()))
    if (entry.path().extension() == ".star") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_name(const ::testing::TestParamInfo<std::string>& param_info) {
  return param_info.param;
}

INSTANTIATE_TEST_SUITE_P(Files, SpecFile, ::testing::ValuesIn(cases()), case_name);

}  // namespace
