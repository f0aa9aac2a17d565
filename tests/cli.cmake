# End-to-end tests of the `carerelay` CLI: the real carerelayd and carerelay
# binaries run as subprocesses (TLS on loopback, temp data dir and
# CARERELAY_HOME), driven and checked through stdout/stderr/exit codes.
if(TARGET carerelayd AND TARGET carerelay)
  carerelay_add_test(cli_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli_test.cc
    LIBS nlohmann_json::nlohmann_json LABELS integration)
  # The tests exec these binaries: build them with the test.
  add_dependencies(cli_test carerelayd carerelay)
endif()

# The CLI's message catalogs: every language has every key, every key the
# sources use exists (the test reads client/cli/ for the Tr("...") calls),
# and the --help texts and parse errors built on them.
carerelay_add_test(cli_catalog_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli_catalog_test.cc
  LIBS carerelay_cli_catalog carerelay_cli_help LABELS unit)
target_compile_definitions(cli_catalog_test PRIVATE
  CARERELAY_CLI_SOURCE_DIR="${PROJECT_SOURCE_DIR}/client/cli")

# What a CLI profile writes to disk (issue 15: the device secret of a
# passphrase profile is sealed in its key store, never in config.json, and an
# older profile's is moved there). No server.
carerelay_add_test(cli_profile_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli_profile_test.cc
  LIBS carerelay_cli_profile nlohmann_json::nlohmann_json LABELS unit)
