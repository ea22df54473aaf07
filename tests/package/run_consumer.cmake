# cmake -P script: build a consumer of act either from an installed package or as a subdirectory.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "command failed (${result}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${SCRATCH})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${SCRATCH}/act-build -G ${GENERATOR} -DACT_BUILD_TESTS=OFF
      -DACT_BUILD_BENCHMARKS=OFF -DACT_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${SCRATCH}/prefix)
  run(${CMAKE_COMMAND} --install ${SCRATCH}/act-build)
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${SCRATCH}/consumer-build -G ${GENERATOR}
      -DCMAKE_PREFIX_PATH=${SCRATCH}/prefix -DACT_CONSUMER_MODE=find_package)
else()
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${SCRATCH}/consumer-build -G ${GENERATOR}
      -DACT_SOURCE_DIR=${SOURCE_DIR} -DACT_CONSUMER_MODE=add_subdirectory)
endif()
run(${CMAKE_COMMAND} --build ${SCRATCH}/consumer-build)
run(${SCRATCH}/consumer-build/act_consumer)
if(NOT last_output MATCHES "act consumer ok")
  message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
