// Frontend throughput: lex, parse+build, and parse+resolve over the valid spec corpus
// (tests/spec/check/valid), reported as bytes per second. Budget: parse + resolve
// >= 5 MB/s of spec source, warm (docs/ARCHITECTURE budgets).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend.h"
#include "grammar/parser.h"

namespace {

namespace fs = std::filesystem;

/// Every valid corpus file, each kept as its own source (as a user's specs would be).
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> files = [] {
    std::vector<std::string> out;
    fs::path dir = fs::path(FB_SOURCE_DIR_DEFAULT) / "tests/spec/check/valid";
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.path().extension() != ".star") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      out.push_back(s.str());
    }
    return out;
  }();
  return files;
}

std::size_t corpus_bytes() {
  std::size_t n = 0;
  for (const auto& f : corpus()) n += f.size();
  return n;
}

void BM_Lex(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& text : corpus()) {
      fb::grammar::SourceFile file(0, "bench.star", text);
      fb::grammar::DiagnosticList diagnostics;
      benchmark::DoNotOptimize(fb::grammar::lex(file, diagnostics));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(BM_Lex);

void BM_ParseAndResolve(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& text : corpus()) {
      fb::grammar::SourceFile file(0, "bench.star", text);
      fb::grammar::DiagnosticList diagnostics;
      benchmark::DoNotOptimize(fb::compiler::analyze(file, diagnostics));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(BM_ParseAndResolve);

/// One large file (the corpus concatenated 20 times): checks that cost stays linear.
void BM_ParseAndResolveLargeFile(benchmark::State& state) {
  std::string big;
  for (int i = 0; i < 20; ++i) {
    for (const auto& f : corpus()) big += f + "\n";
  }
  for (auto _ : state) {
    fb::grammar::SourceFile file(0, "big.star", big);
    fb::grammar::DiagnosticList diagnostics;
    benchmark::DoNotOptimize(fb::compiler::analyze(file, diagnostics));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * big.size()));
}
BENCHMARK(BM_ParseAndResolveLargeFile)->Unit(benchmark::kMillisecond);

/// Shapes that stress the parser's lookahead and recovery, at 256, 1024 and 4096 lines:
/// time must grow linearly with the line count (compare the rows).
std::string hostile(int kind, std::int64_t n) {
  std::string out;
  for (std::int64_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: out += "x = " + std::string(40, '(') + "1" + std::string(40, ')') + "\n"; break;
      case 1:
        out += "y = [" + std::string(30, '{') + std::string(30, '}') + " for z in w if z]\n";
        break;
      case 2: out += "z = f(a, b c, ) + ]\n"; break;  // an error on every line
      default: out += "w = 1 + 2 * 3 - 4 // 5 % 6 << 7 >> 8 & 9 | 10 ^ 11 == 12 or not 13\n";
    }
  }
  return out;
}

void BM_HostileShapes(benchmark::State& state) {
  std::string text = hostile(static_cast<int>(state.range(0)), state.range(1));
  for (auto _ : state) {
    fb::grammar::SourceFile file(0, "hostile.star", text);
    fb::grammar::DiagnosticList diagnostics;
    benchmark::DoNotOptimize(fb::compiler::analyze(file, diagnostics));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_HostileShapes)
    ->ArgsProduct({{0, 1, 2, 3}, {256, 1024, 4096}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
