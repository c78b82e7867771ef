# CTest's consumer_project: installs the build MESETA_BUILD_DIR into
# WORK_DIR/prefix, then configures, builds and runs the project
# CONSUMER_SOURCE_DIR (find_package(meseta)) against that prefix only.
#
#   cmake -DMESETA_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... -P consumer_project.cmake
foreach(var MESETA_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${what}:\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc})")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")

set(config_args)
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
run("install" ${CMAKE_COMMAND} --install "${MESETA_BUILD_DIR}" --prefix "${prefix}" ${config_args})

set(compilers)
if(CMAKE_CXX_COMPILER)
  set(compilers "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
endif()
# Only the prefix: no package registry, nothing from the source tree.
run("configure the consumer" ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
    "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF ${compilers})
if(NOT output MATCHES "meseta [0-9.]+ from ${prefix}/")
  message(FATAL_ERROR "find_package(meseta) did not find the installed package in ${prefix}")
endif()
run("build the consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build" -j2)
run("run the consumer" "${WORK_DIR}/build/app")
if(NOT output MATCHES "consumer ok")
  message(FATAL_ERROR "the consumer did not say it is ok")
endif()
