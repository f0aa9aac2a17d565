# Tests of carerelayd as its own process (CARERELAYD_PATH), killed with
# SIGKILL and restarted on the same data directory.
#
# crash_test: killed mid-load; every acknowledged send must still be
# delivered; and the same process's memory under oversized requests without
# credentials (ServerProcessTest). Label "crash".
#
# kill_soak_test (issue 16, item 4): a mixed load (team sends, urgent sends
# and their acknowledgements, envelope acknowledgements, team changes,
# uploads, urgent timers falling due) killed at random points for
# CARERELAY_SOAK_CYCLES cycles (5 here; tests/kill_soak.sh runs more), with
# the delivery contract, the timers and `admin check` verified after each
# cycle. Labels "crash" and "soak".
if(TARGET carerelayd)
  # The child-process helpers both tests share (tests/server_process.h).
  add_library(carerelay_test_server_process STATIC server_process.cc)
  target_link_libraries(carerelay_test_server_process PUBLIC carerelay_test_support
    GTest::gtest)
  target_compile_definitions(carerelay_test_server_process PRIVATE
    CARERELAYD_PATH="$<TARGET_FILE:carerelayd>")

  carerelay_add_test(crash_test SOURCES crash_test.cc
    LIBS carerelay_test_server_process LABELS crash)
  # The tests run the server binary, so building a test builds it.
  add_dependencies(crash_test carerelayd)

  # A plain add_test: carerelay_add_test takes one label (see tests/CMakeLists.txt).
  add_executable(kill_soak_test kill_soak_test.cc)
  target_link_libraries(kill_soak_test PRIVATE carerelay_test_server_process
    OpenSSL::Crypto GTest::gtest GTest::gtest_main)
  target_include_directories(kill_soak_test PRIVATE ${PROJECT_SOURCE_DIR})
  add_dependencies(kill_soak_test carerelayd)
  add_test(NAME KillSoakTest COMMAND kill_soak_test)
  set(kill_soak_environment ${CARERELAY_TEST_ENVIRONMENT})
  list(APPEND kill_soak_environment CARERELAY_SOAK_CYCLES=5)
  # About 80 s: the run waits for the urgent timers of its last sends to fall
  # due, and --urgent-window-minutes cannot be under one minute. COST: the
  # longest test starts first under `ctest -j` (before ctest has timings of
  # its own, as in CI's fresh clone), so it is not the last one running.
  set_tests_properties(KillSoakTest PROPERTIES
    LABELS "crash;soak" FIXTURES_REQUIRED test_tls TIMEOUT 900 COST 1000
    ENVIRONMENT "${kill_soak_environment}")
endif()
