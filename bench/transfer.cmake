# carerelay-transfer-bench (issue 5): documents through an in-process
# carerelayd, upload and download MB/s beside OpenSSL's raw AES-256-GCM and
# SHA-256, for both attachment store layouts. See bench/README.md.
add_executable(carerelay-transfer-bench ${CMAKE_CURRENT_LIST_DIR}/transfer_bench.cc)
target_include_directories(carerelay-transfer-bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay-transfer-bench PRIVATE carerelay_bench_relay carerelay_server
  carerelay_client carerelay_crypto OpenSSL::Crypto CLI11::CLI11 nlohmann_json::nlohmann_json)
target_compile_definitions(carerelay-transfer-bench PRIVATE
  CARERELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# Smoke run: a 2 MiB document once per layout; that it runs and reports.
add_test(NAME carerelay_transfer_bench_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-transfer-bench>
    "-DARGS=--size-mib;2;--repeat;1;--tls-dir;${CMAKE_BINARY_DIR}/test-tls;--json"
    "-DKEYS=layouts.chunked.upload_mbps;layouts.blob.download_mbps"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
set_tests_properties(carerelay_transfer_bench_smoke PROPERTIES
  LABELS bench FIXTURES_REQUIRED test_tls TIMEOUT 120
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
