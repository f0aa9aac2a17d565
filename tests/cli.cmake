# End-to-end tests of the `carerelay` CLI: the real carerelayd and carerelay
# binaries run as subprocesses (TLS on loopback, temp data dir and
# CARERELAY_HOME), driven and checked through stdout/stderr/exit codes.
if(TARGET carerelayd AND TARGET carerelay)
  carerelay_add_test(cli_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli_test.cc
    LIBS nlohmann_json::nlohmann_json LABELS integration)
  # The tests exec these binaries: build them with the test.
  add_dependencies(cli_test carerelayd carerelay)
endif()
