# cmake -P script: build the consumer project against act, installed (find_package) or as a
# subdirectory, then run every program it built. COMPONENTS: what it asks for beyond act::act, comma separated;
# ACT_OPTIONS: extra cache settings for act's own configure (e.g. -DACT_WITH_OPENMP=OFF).
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "command failed (${result}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

separate_arguments(act_options UNIX_COMMAND "${ACT_OPTIONS}")
file(REMOVE_RECURSE ${SCRATCH})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${SCRATCH}/act-build -G ${GENERATOR} -DACT_BUILD_TESTS=OFF
      -DACT_BUILD_BENCHMARKS=OFF -DACT_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${SCRATCH}/prefix ${act_options})
  run(${CMAKE_COMMAND} --install ${SCRATCH}/act-build)
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${SCRATCH}/consumer-build -G ${GENERATOR}
      -DCMAKE_PREFIX_PATH=${SCRATCH}/prefix -DACT_CONSUMER_MODE=find_package "-DACT_CONSUMER_COMPONENTS=${COMPONENTS}")
else()
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${SCRATCH}/consumer-build -G ${GENERATOR} -DACT_SOURCE_DIR=${SOURCE_DIR}
      -DACT_CONSUMER_MODE=add_subdirectory "-DACT_CONSUMER_COMPONENTS=${COMPONENTS}" ${act_options})
endif()
run(${CMAKE_COMMAND} --build ${SCRATCH}/consumer-build)
string(REPLACE "," ";" programs "core,${COMPONENTS}")
list(REMOVE_ITEM programs "")
foreach(program IN LISTS programs)
  run(${SCRATCH}/consumer-build/${program}_consumer)
  if(NOT last_output MATCHES "act consumer ok")
    message(FATAL_ERROR "${program}_consumer printed: ${last_output}")
  endif()
endforeach()
