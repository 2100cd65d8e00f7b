// Goldens for `faultbox plan`: for each tests/golden/plan/NAME.star, the text tree
// (NAME.txt), the JSON with coverage (NAME.json) and the DOT graph (NAME.dot). The
// spec's directory reads "$DIR" so the files do not depend on the checkout's place.
//
// To regenerate after an intended change, run: tools/update-goldens
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/test_support.h"
#include "tools/cli/cli.h"

namespace fb::cli {
namespace {

namespace fs = std::filesystem;

fs::path golden_dir() { return testing::source_dir() / "tests/golden/plan"; }

std::string plan_output(const fs::path& spec, std::vector<std::string> flags) {
  std::vector<std::string> args{"plan", spec.string()};
  args.insert(args.end(), flags.begin(), flags.end());
  std::ostringstream out, err;
  int code = run(args, out, err, false);
  std::string text = out.str() + (code ? "exit " + std::to_string(code) + "\n" + err.str() : "");
  std::string dir = spec.parent_path().string() + "/";
  for (std::size_t at = 0; (at = text.find(dir, at)) != std::string::npos;)
    text.replace(at, dir.size(), "$DIR/");
  return text;
}

void compare(const fs::path& path, const std::string& actual) {
  if (std::getenv("FB_UPDATE_GOLDENS")) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run tools/update-goldens";
  EXPECT_EQ(testing::read_file(path), actual)
      << "golden " << path.filename() << " differs; if intended, run tools/update-goldens";
}

class PlanGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PlanGolden, TextJsonAndDot) {
  fs::path spec = golden_dir() / (GetParam() + ".star");
  compare(golden_dir() / (GetParam() + ".txt"), plan_output(spec, {"--coverage"}));
  compare(golden_dir() / (GetParam() + ".json"),
          plan_output(spec, {"--format", "json", "--coverage"}));
  compare(golden_dir() / (GetParam() + ".dot"), plan_output(spec, {"--format", "dot"}));
}

std::vector<std::string> cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(golden_dir()))
    if (entry.path().extension() == ".star") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_name(const ::testing::TestParamInfo<std::string>& param_info) {
  return param_info.param;
}

INSTANTIATE_TEST_SUITE_P(Files, PlanGolden, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace fb::cli
