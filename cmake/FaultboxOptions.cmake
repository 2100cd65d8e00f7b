# Compiler settings shared by every faultbox target.
#
# fb_apply_warnings(target) turns on the warning set for code we write; generated
# code (ANTLR) is compiled without it.

set(FB_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(FB_WERROR)
  list(APPEND FB_WARNING_FLAGS -Werror)
endif()
# GCC's -Wmaybe-uninitialized reports false positives inside libstdc++ (std::regex,
# std::function) when sanitizers change inlining; the plain build keeps the warning.
if(FB_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND FB_WARNING_FLAGS -Wno-maybe-uninitialized)
endif()

function(fb_apply_warnings target)
  target_compile_options(${target} PRIVATE ${FB_WARNING_FLAGS})
endfunction()

if(FB_SANITIZE)
  string(REPLACE "," ";" _fb_sanitizers "${FB_SANITIZE}")
  foreach(_s IN LISTS _fb_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|leak|thread)$")
      message(FATAL_ERROR "FB_SANITIZE: unknown sanitizer '${_s}' (use address, undefined, leak or thread)")
    endif()
  endforeach()
  add_compile_options(-fsanitize=${FB_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${FB_SANITIZE})
endif()

if(FB_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FB_FUZZ needs clang (configure with -DCMAKE_CXX_COMPILER=clang++)")
  endif()
  # Coverage instrumentation everywhere; only fuzz targets link the libFuzzer main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# Every include is relative to the repository root: #include "grammar/source.h".
include_directories(${PROJECT_SOURCE_DIR})
