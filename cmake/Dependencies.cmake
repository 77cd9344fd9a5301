# Every dependency comes from Debian's packages (see README for the one apt-get line).
# Non-CUDA libraries are linked statically where Debian ships the .a, so a binary built here
# runs on GPU hosts that lack these packages (docs/architecture.md, "Build").
find_package(Threads REQUIRED)

# OpenBLAS for CPU GEMM, static (libopenblas.a; its LAPACK half needs libgfortran and libquadmath, also static,
# so the binary runs on hosts without gfortran).
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu/openblas-pthread REQUIRED)
find_library(OPENBLAS_STATIC NAMES libopenblas.a PATH_SUFFIXES openblas-pthread)
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libgfortran.a OUTPUT_VARIABLE GFORTRAN_LIB
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libquadmath.a OUTPUT_VARIABLE QUADMATH_LIB
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(OPENBLAS_STATIC AND EXISTS "${GFORTRAN_LIB}" AND EXISTS "${QUADMATH_LIB}")
  add_library(ember_blas INTERFACE)
  target_link_libraries(ember_blas INTERFACE ${OPENBLAS_STATIC} ${GFORTRAN_LIB} ${QUADMATH_LIB} Threads::Threads m)
else()
  find_library(OPENBLAS_SHARED NAMES openblas REQUIRED)
  add_library(ember_blas INTERFACE)
  target_link_libraries(ember_blas INTERFACE ${OPENBLAS_SHARED})
endif()
target_include_directories(ember_blas INTERFACE ${OPENBLAS_INCLUDE_DIR})

# yaml-cpp (static), CLI11, nlohmann-json, stb (header-only), zlib for .gz IDX files.
find_library(YAMLCPP_STATIC NAMES libyaml-cpp.a yaml-cpp REQUIRED)
find_path(YAMLCPP_INCLUDE_DIR yaml-cpp/yaml.h REQUIRED)
add_library(ember_yaml INTERFACE)
target_link_libraries(ember_yaml INTERFACE ${YAMLCPP_STATIC})
target_include_directories(ember_yaml INTERFACE ${YAMLCPP_INCLUDE_DIR})
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
find_library(ZLIB_STATIC NAMES libz.a z REQUIRED)

# CUDA: enabled when the toolkit is found. cuDNN and NCCL have no CMake targets; find them by hand.
set(EMBER_HAS_CUDA OFF)
if(EMBER_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_FLAGS_RELEASE "-O3")
    find_package(CUDAToolkit REQUIRED)
    find_library(CUDNN_LIB cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu REQUIRED)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include/x86_64-linux-gnu REQUIRED)
    find_library(NCCL_LIB nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include)
    set(EMBER_HAS_CUDA ON)
    message(STATUS "ember: CUDA backend ON (architectures ${CMAKE_CUDA_ARCHITECTURES}), cuDNN ${CUDNN_LIB}, NCCL ${NCCL_LIB}")
  else()
    message(STATUS "ember: no CUDA compiler found; CPU-only build")
  endif()
endif()

set(EMBER_HAS_MPI OFF)
if(EMBER_MPI)
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    set(EMBER_HAS_MPI ON)
    message(STATUS "ember: MPI backend ON (${MPIEXEC_EXECUTABLE})")
  endif()
endif()
