#pragma once
/// Helpers shared by the data-driven tests: locating the source tree, reading files,
/// and splitting chunked .star files at `---` lines.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fb::testing {

/// The repository root: $FB_SOURCE_DIR (set by ctest), else the configure-time path.
inline std::filesystem::path source_dir() {
  const char* dir = std::getenv("FB_SOURCE_DIR");
  return dir ? std::filesystem::path(dir) : std::filesystem::path(FB_SOURCE_DIR_DEFAULT);
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Chunk {
  std::string text;
  int first_line;  // line of the chunk's first line in its file
};

/// Splits at lines holding only `---`; each chunk keeps its own line numbering.
inline std::vector<Chunk> split_chunks(const std::string& text) {
  std::vector<Chunk> chunks{{"", 1}};
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line == "---") {
      chunks.push_back({"", number + 1});
      continue;
    }
    chunks.back().text += line + "\n";
  }
  return chunks;
}

}  // namespace fb::testing
