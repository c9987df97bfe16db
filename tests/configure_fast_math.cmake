# ctest ConfigureRefusesFastMath: configuring petprep with a fast-math flag must fail at
# configure time with a message that says "fast-math" and why.
foreach(_flag "-DCMAKE_CXX_FLAGS=-O2 -ffast-math" "-DCMAKE_CXX_FLAGS_RELEASE=-Ofast"
              "-DCMAKE_CUDA_FLAGS=--use_fast_math")
  file(REMOVE_RECURSE "${SCRATCH}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${SCRATCH}" "${_flag}"
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  file(REMOVE_RECURSE "${SCRATCH}")
  if(_rc EQUAL 0)
    message(FATAL_ERROR "configuring with ${_flag} succeeded; it must be refused")
  endif()
  string(REPLACE "\n" " " _err "${_err}")
  if(NOT _err MATCHES "refuses fast-math" OR NOT _err MATCHES "same bits")
    message(FATAL_ERROR "configuring with ${_flag} failed without the fast-math message:\n${_err}")
  endif()
  message(STATUS "refused as it must be: ${_flag}")
endforeach()
