# Runs a benchmark (BENCH with ;-separated ARGS) and checks that it exits 0
# and prints one JSON object with each of KEYS (a.b: member b of a): that it runs and reports,
# never how fast (DESIGN.md: performance is measured, not asserted).
execute_process(COMMAND ${BENCH} ${ARGS}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BENCH} exited with ${rc}\n${err}\n${out}")
endif()
foreach(key ${KEYS})
  # "a.b" names member b of member a.
  string(REPLACE "." ";" path "${key}")
  string(JSON value ERROR_VARIABLE json_error GET "${out}" ${path})
  if(json_error)
    message(FATAL_ERROR "no key '${key}' in the JSON output: ${json_error}\n${out}")
  endif()
endforeach()
message(STATUS "ok: ${KEYS}")
