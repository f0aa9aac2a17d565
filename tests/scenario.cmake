# The discharge scenario (issue 7): deploy/discharge-scenario.sh against a
# real carerelayd process (TLS on a free loopback port, fresh data dir), one
# `carerelay` profile per person. The script's checks are the test. It runs
# in English (discharge_scenario), French, Dutch and German (_fr, _nl, _de).
if(TARGET carerelayd AND TARGET carerelay)
  # The same story in each language of the CLI (--lang): the checks read
  # --json output and what no translation changes, so they hold in all four.
  # About a minute each: COST starts them early under `ctest -j` (see
  # KillSoakTest in crash.cmake).
  foreach(lang IN ITEMS en fr nl de)
    if(lang STREQUAL "en")
      set(name discharge_scenario)
    else()
      set(name discharge_scenario_${lang})
    endif()
    add_test(NAME ${name}
      COMMAND bash ${PROJECT_SOURCE_DIR}/tests/run_discharge_scenario.sh
              $<TARGET_FILE:carerelayd> $<TARGET_FILE:carerelay> ${CMAKE_BINARY_DIR}/test-tls ${lang})
    set_tests_properties(${name} PROPERTIES
      LABELS integration FIXTURES_REQUIRED test_tls TIMEOUT 600 COST 500
      ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
  endforeach()
endif()
