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

# oneDNN (libdnnl-dev) for the CPU f32 convolutions; without it ember builds with the im2col kernels alone.
# Debian ships it shared only (libdnnl.so.2, on libgomp), so a binary built with it needs that library where
# it runs: -DEMBER_ONEDNN=OFF builds without. Debian's dnnl-config.cmake requires the OpenCL headers (its
# GPU runtime, only recommended by the package), which ember does not use: without them, find it by hand.
option(EMBER_ONEDNN "Run CPU f32 convolutions through oneDNN when libdnnl is found" ON)
set(EMBER_HAS_ONEDNN OFF)
if(EMBER_ONEDNN)
  find_package(OpenCL QUIET)
  if(OpenCL_FOUND)
    find_package(dnnl CONFIG QUIET)
  endif()
  if(NOT TARGET DNNL::dnnl)
    find_library(DNNL_LIB dnnl)
    find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
    if(DNNL_LIB AND DNNL_INCLUDE_DIR)
      add_library(DNNL::dnnl SHARED IMPORTED)
      set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION ${DNNL_LIB}
                                                  INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR})
    endif()
  endif()
  find_package(OpenMP COMPONENTS CXX)  # oneDNN's threads are libgomp's; we set their count
  if(TARGET DNNL::dnnl AND OpenMP_CXX_FOUND)
    set(EMBER_HAS_ONEDNN ON)
    get_target_property(EMBER_DNNL_LOCATION DNNL::dnnl LOCATION)
    message(STATUS "ember: oneDNN ON for CPU f32 convolutions (${EMBER_DNNL_LOCATION})")
  else()
    message(STATUS "ember: oneDNN (libdnnl-dev) or OpenMP not found; CPU convolutions use im2col + OpenBLAS")
  endif()
else()
  message(STATUS "ember: oneDNN off (EMBER_ONEDNN=OFF); CPU convolutions use im2col + OpenBLAS")
endif()

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
