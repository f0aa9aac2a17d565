# Relay benchmarks (issue 2's measurement, grown by issue 8). Measured, never
# asserted: the smoke tests below check that each one runs and reports.
# See bench/README.md.

# carerelay-send-bench: closed-loop concurrent senders against carerelayd
# (in-process, or --target), sync on and off.
add_executable(carerelay-send-bench send_bench.cc)
target_include_directories(carerelay-send-bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay-send-bench PRIVATE carerelay_bench_relay carerelay_server
  carerelay_client CLI11::CLI11 nlohmann_json::nlohmann_json)
# The default --tls-script (deploy/make-dev-tls.sh of this checkout).
target_compile_definitions(carerelay-send-bench PRIVATE
  CARERELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# carerelay-store-bench: Google Benchmark micro-benchmarks of server/store.
add_executable(carerelay-store-bench store_bench.cc)
target_include_directories(carerelay-store-bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay-store-bench PRIVATE carerelay_store benchmark::benchmark)

add_test(NAME send_bench_smoke
  COMMAND carerelay-send-bench --seconds 1 --warmup-seconds 0.2 --concurrency 1,2
    --recipients 2 --recipient-devices 2 --tls-dir ${CMAKE_BINARY_DIR}/test-tls --json)
set_tests_properties(send_bench_smoke PROPERTIES
  LABELS bench FIXTURES_REQUIRED test_tls TIMEOUT 300
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
add_test(NAME store_bench_smoke
  COMMAND carerelay-store-bench --benchmark_min_time=0.01)
set_tests_properties(store_bench_smoke PROPERTIES LABELS bench TIMEOUT 300
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")

# carerelay-backup-bench: checkpoint (admin backup), copy (admin restore) and
# consistency check times for a store of --mib MiB (issue 16).
add_executable(carerelay-backup-bench backup_bench.cc)
target_include_directories(carerelay-backup-bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay-backup-bench PRIVATE carerelay_core CLI11::CLI11
  nlohmann_json::nlohmann_json)
add_test(NAME backup_bench_smoke COMMAND carerelay-backup-bench --mib 16 --json)
set_tests_properties(backup_bench_smoke PROPERTIES LABELS bench TIMEOUT 300
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
