# Server and relay tests: a real carerelayd in-process over TLS on loopback,
# real RocksDB in a temp dir, real libsignal keys.
add_library(carerelay_test_support STATIC cut_proxy.cc test_support.cc)
target_include_directories(carerelay_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(carerelay_test_support PUBLIC
  CARERELAY_TEST_TLS_DIR="${CMAKE_BINARY_DIR}/test-tls")
target_link_libraries(carerelay_test_support PUBLIC carerelay_server carerelay_messenger
  GTest::gtest)

foreach(t abuse_limits_test account_functions_test account_registry_test care_teams_test consistency_check_test
    metrics_test prekey_directory_test
    relay_test)
  carerelay_add_test(${t} SOURCES ${t}.cc LIBS carerelay_test_support LABELS integration)
endforeach()
carerelay_add_test(delivery_hub_test SOURCES delivery_hub_test.cc LIBS carerelay_core LABELS unit)
carerelay_add_test(refusal_hold_test SOURCES refusal_hold_test.cc LIBS carerelay_core LABELS unit)
carerelay_add_test(service_calendar_test SOURCES service_calendar_test.cc LIBS carerelay_core
  LABELS unit)
carerelay_add_test(audit_chain_test SOURCES audit_chain_test.cc LIBS carerelay_proto LABELS unit)

foreach(t messenger_test team_messenger_test organisation_roster_test team_history_test)
  carerelay_add_test(${t} SOURCES ${t}.cc
    LIBS carerelay_test_support carerelay_messenger LABELS integration)
endforeach()
carerelay_add_test(server_config_test SOURCES server_config_test.cc
  LIBS carerelay_test_support LABELS unit)

# Attachments: the large-file case runs alone, labelled "large" (skipped by
# `ctest -LE large`).
carerelay_add_test(attachments_test SOURCES attachments_test.cc
  LIBS carerelay_test_support LABELS integration)
add_test(NAME AttachmentsLargeFileTest
  COMMAND attachments_test --gtest_filter=AttachmentsTest.LargeFileRoundTrips)
set_tests_properties(AttachmentsLargeFileTest PROPERTIES
  LABELS "integration;large" FIXTURES_REQUIRED test_tls TIMEOUT 900
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")

# Issue 16: the catalogue of bad inputs, each with the status its proto documents.
carerelay_add_test(bad_input_catalogue_test SOURCES bad_input_catalogue_test.cc
  LIBS carerelay_test_support LABELS integration)
