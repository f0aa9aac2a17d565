# The discharge scenario (issue 7): deploy/discharge-scenario.sh against a
# real carerelayd process (TLS on a free loopback port, fresh data dir), one
# `carerelay` profile per person. The script's checks are the test.
if(TARGET carerelayd AND TARGET carerelay)
  add_test(NAME discharge_scenario
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/run_discharge_scenario.sh
            $<TARGET_FILE:carerelayd> $<TARGET_FILE:carerelay> ${CMAKE_BINARY_DIR}/test-tls)
  set_tests_properties(discharge_scenario PROPERTIES
    LABELS integration FIXTURES_REQUIRED test_tls TIMEOUT 600
    ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
endif()
