# Layer views: each library compiles against a folder of symbolic links to the source folders its layer may
# include, and nothing else, so an include that points up the stack fails to compile
# ("engine/tensor.h: No such file or directory" in kernels/). The rule (docs/architecture.md, "Layers"):
#   base -> kernels (cpu, cuda; both may use kernels/common) -> engine -> models, data -> dist -> tools
# tools/check_layers.py checks the same rule on the sources (CTest `check_layers`, label lint).
# Tests and benchmarks see the whole tree (tests/CMakeLists.txt, benchmarks/CMakeLists.txt).

# ember_make_view(<name> <folder>...): ${CMAKE_BINARY_DIR}/layers/<name>, a folder of links to the named folders
# (relative to the source root: "base", "kernels/cpu", "engine", ...).
function(ember_make_view name)
  set(view ${CMAKE_BINARY_DIR}/layers/${name})
  file(REMOVE_RECURSE ${view})  # removes the links, not what they point to
  file(MAKE_DIRECTORY ${view})
  foreach(folder IN LISTS ARGN)
    if(NOT IS_DIRECTORY ${CMAKE_SOURCE_DIR}/${folder})
      message(FATAL_ERROR "ember_make_view(${name}): no folder ${folder}")
    endif()
    get_filename_component(parent ${view}/${folder} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${view}/${folder} SYMBOLIC)
  endforeach()
endfunction()

# ember_layer_view(<target> <folder>...): <target>'s sources see only the named folders.
function(ember_layer_view target)
  ember_make_view(${target} ${ARGN})
  target_include_directories(${target} PRIVATE ${CMAKE_BINARY_DIR}/layers/${target})
endfunction()

# What each layer may include (itself and the layers below it).
set(EMBER_VIEW_BASE base)
set(EMBER_VIEW_KERNELS_CPU ${EMBER_VIEW_BASE} kernels/common kernels/cpu)
set(EMBER_VIEW_KERNELS_CUDA ${EMBER_VIEW_BASE} kernels/common kernels/cuda)
set(EMBER_VIEW_ENGINE ${EMBER_VIEW_BASE} kernels engine)
set(EMBER_VIEW_MODELS ${EMBER_VIEW_BASE} engine models)
set(EMBER_VIEW_DATA ${EMBER_VIEW_BASE} engine data)
set(EMBER_VIEW_DIST ${EMBER_VIEW_BASE} engine data dist)
set(EMBER_VIEW_TOOLS ${EMBER_VIEW_BASE} engine models data dist tools)
