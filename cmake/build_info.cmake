# Writes build_info.h at build time, so the git commit `petprep env` reports is the one built.
# configure_file leaves the file untouched when nothing changed: no needless rebuilds.
set(PETPREP_GIT_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD
                  WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE _commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _rc ERROR_QUIET)
  if(_rc EQUAL 0 AND _commit)
    set(PETPREP_GIT_COMMIT "${_commit}")
    execute_process(COMMAND ${GIT_EXECUTABLE} status --porcelain --untracked-files=no
                    WORKING_DIRECTORY ${SOURCE_DIR}
                    OUTPUT_VARIABLE _dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_dirty)
      set(PETPREP_GIT_COMMIT "${PETPREP_GIT_COMMIT}-dirty")
    endif()
  endif()
endif()
configure_file(${SOURCE_DIR}/pipeline/core/build_info.h.in ${OUTPUT} @ONLY)
