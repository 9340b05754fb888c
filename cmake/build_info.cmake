# Writes the header with the facts `sshboot --version` prints that only the
# build knows: the version and the git commit. No dates or paths, so two
# builds of one commit are byte-identical.
# Usage: cmake -DOUT=build_info.hpp -DVERSION=0.1.0 [-DCOMMIT=abc] -DSOURCE_DIR=. -P build_info.cmake
if(NOT COMMIT)
  set(COMMIT unknown)
  find_program(GIT git)
  if(GIT)
    execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                    OUTPUT_VARIABLE head RESULT_VARIABLE rc ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0 AND head)
      set(COMMIT ${head})
      execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} status --porcelain --untracked-files=no
                      OUTPUT_VARIABLE changes RESULT_VARIABLE rc ERROR_QUIET)
      if(rc EQUAL 0 AND changes)
        string(APPEND COMMIT -dirty)
      endif()
    endif()
  endif()
endif()
set(body "// Generated at build time by cmake/build_info.cmake. Do not edit.\n#pragma once\n\n#define SSHBOOT_BUILD_VERSION \"${VERSION}\"\n#define SSHBOOT_BUILD_COMMIT \"${COMMIT}\"\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
