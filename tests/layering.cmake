# The layering the build relies on, checked: no file under pipeline/ includes gpu/ (gpu/
# defines what pipeline/ declares), and pipeline/core knows no devices, codecs or networks.
# Usage: cmake -DSOURCE_DIR=<repo> -P tests/layering.cmake
file(GLOB_RECURSE pipeline_files ${SOURCE_DIR}/pipeline/*.h ${SOURCE_DIR}/pipeline/*.cc)
set(problems "")
foreach(f ${pipeline_files})
  file(STRINGS ${f} lines REGEX "^#include")
  file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
  foreach(line ${lines})
    if(line MATCHES "#include \"gpu/")
      string(APPEND problems "\n  ${rel}: ${line} (pipeline/ declares, gpu/ defines)")
    endif()
    if(rel MATCHES "^pipeline/core/" AND line MATCHES
       "cuda|curl|archive|png|jpeg|turbojpeg|gif_lib|tiff|opencv|pipeline/(device|dataset|fetch|loader|train|augment|provenance)/")
      string(APPEND problems "\n  ${rel}: ${line} (pipeline/core knows no devices, codecs, networks or upper layers)")
    endif()
  endforeach()
endforeach()
list(LENGTH pipeline_files count)
if(problems)
  message(FATAL_ERROR "layering broken:${problems}")
endif()
message(STATUS "layering holds in ${count} files under pipeline/")
