# The arithmetic contract (../shared/DESIGN.md, pipeline/train/ARITHMETIC.md) holds only
# without fast-math: it reorders sums, contracts multiply-adds, assumes no NaN or infinity and
# flushes subnormals to zero, so the weights would not be the same bits on every machine.
# nvcc does not define __FAST_MATH__ for host code, so --use_fast_math is caught here.
set(_petprep_flag_vars CMAKE_C_FLAGS CMAKE_CXX_FLAGS CMAKE_CUDA_FLAGS)
foreach(_cfg DEBUG RELEASE RELWITHDEBINFO MINSIZEREL ${CMAKE_BUILD_TYPE})
  string(TOUPPER "${_cfg}" _cfg)
  list(APPEND _petprep_flag_vars CMAKE_C_FLAGS_${_cfg} CMAKE_CXX_FLAGS_${_cfg} CMAKE_CUDA_FLAGS_${_cfg})
endforeach()
list(REMOVE_DUPLICATES _petprep_flag_vars)
foreach(_var ${_petprep_flag_vars})
  # CMake seeds CMAKE_<LANG>_FLAGS from CFLAGS, CXXFLAGS and CUDAFLAGS on the first configure.
  set(_value " ${${_var}} ")
  if(_value MATCHES " (-ffast-math|-Ofast|-ffinite-math-only|-funsafe-math-optimizations|--?use_fast_math|--?use-fast-math)( |=|$)")
    message(FATAL_ERROR
      "petprep refuses fast-math: ${_var} holds '${CMAKE_MATCH_1}'. Fast-math reorders sums, "
      "contracts multiply-adds and flushes subnormals to zero, so the trained weights would "
      "not be the same bits on every machine and device (pipeline/train/ARITHMETIC.md). "
      "Remove the flag and configure again.")
  endif()
endforeach()
