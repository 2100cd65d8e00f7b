# Writes OUT: a C++ source defining fb::recipes::embedded() from the FILES given, each
# file's text as a raw string literal keyed "recipes/<name>.star".
string(REPLACE "|" ";" FILES "${FILES}")
set(body "// Generated from recipes/*.star by recipes/embed.cmake; do not edit.\n")
string(APPEND body "#include \"recipes/recipes.h\"\n\nnamespace fb::recipes {\n\n")
string(APPEND body "const std::map<std::string, std::string>& embedded() {\n")
string(APPEND body "  static const std::map<std::string, std::string> files{\n")
foreach(file ${FILES})
  get_filename_component(name ${file} NAME)
  file(READ ${file} text)
  string(APPEND body "      {\"recipes/${name}\", R\"fbrecipe(${text})fbrecipe\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace fb::recipes\n")
file(WRITE ${OUT} "${body}")
