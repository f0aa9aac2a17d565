# carerelay-overload-bench (issue 16, item 6): one client flooding sends and
# uploads against carerelayd's default abuse limits, beside a victim client
# whose send and delivery latency is measured with and without the flood.
# Measured, never asserted. See bench/README.md, "Issue 16: overload".
add_executable(carerelay-overload-bench ${CMAKE_CURRENT_LIST_DIR}/overload_bench.cc)
target_link_libraries(carerelay-overload-bench PRIVATE carerelay_bench_load carerelay_bench_devices
  carerelay_proto OpenSSL::Crypto CLI11::CLI11 nlohmann_json::nlohmann_json)
add_dependencies(carerelay-overload-bench carerelayd)
target_compile_definitions(carerelay-overload-bench PRIVATE
  CARERELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  CARERELAYD_PATH="$<TARGET_FILE:carerelayd>")

# Smoke run: that it runs and reports, and that the flooder was refused with
# RESOURCE_EXHAUSTED carrying a retry-after and never without one (--check:
# a property of the server's answers, not a speed). One short pair of runs;
# the send limit is lowered to 20/s, burst 20 (the victim sends 5/s per
# device), so that even a flooder slowed down by a busy machine is refused.
add_test(NAME carerelay_overload_bench_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-overload-bench>
    "-DARGS=--duration;1;--warmup;0.3;--drain;5;--victim-rate;10;--server-arg=--sends-per-second=20;--server-arg=--send-burst=20;--flood-send-threads;2;--flood-upload-threads;1;--upload-kib;256;--tls-dir;${CMAKE_BINARY_DIR}/test-tls;--check;--json"
    "-DKEYS=summary.victim_send_ms.p99_ratio;summary.victim_delivery_ms.p99_ratio;summary.flooder_in_windows.refused_with_retry_after;runs.1.flooder_in_window.send.retry_after_seconds;runs.1.server.cores_used"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
set_tests_properties(carerelay_overload_bench_smoke PROPERTIES
  LABELS bench FIXTURES_REQUIRED test_tls TIMEOUT 120
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
