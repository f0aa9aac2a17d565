# carerelay-bench (issues 8 and 14): carerelayd and a no-op relay of the same
# protocol, each in its own process, driven alike by an asynchronous load
# generator; the fdatasync probe it runs beside them. Measured, never
# asserted. See bench/README.md.

# The generator's parts (one concept per file; see each header).
add_library(carerelay_bench_load STATIC
  ${CMAKE_CURRENT_LIST_DIR}/async_load.cc
  ${CMAKE_CURRENT_LIST_DIR}/child_process.cc
  ${CMAKE_CURRENT_LIST_DIR}/device_channel.cc
  ${CMAKE_CURRENT_LIST_DIR}/idle_streams.cc
  ${CMAKE_CURRENT_LIST_DIR}/load_world.cc
  ${CMAKE_CURRENT_LIST_DIR}/proc_stats.cc
  ${CMAKE_CURRENT_LIST_DIR}/rocksdb_baseline.cc
  ${CMAKE_CURRENT_LIST_DIR}/server_process.cc
  ${CMAKE_CURRENT_LIST_DIR}/sync_counter.cc
  ${CMAKE_CURRENT_LIST_DIR}/window_sampler.cc)
target_include_directories(carerelay_bench_load PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay_bench_load PUBLIC carerelay_bench_devices carerelay_client
  carerelay_proto gRPC::grpc++ absl::flat_hash_map absl::str_format absl::time
  PRIVATE RocksDB::rocksdb nlohmann_json::nlohmann_json)

# The no-op relay: carerelay.v1.Messages with no storage, its own process.
add_executable(carerelay-noop-relay ${CMAKE_CURRENT_LIST_DIR}/noop_relay_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/noop_relay_main.cc)
target_include_directories(carerelay-noop-relay PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay-noop-relay PRIVATE carerelay_proto gRPC::grpc++
  absl::flat_hash_map absl::synchronization absl::str_format absl::time CLI11::CLI11)

# fdatasync latency of a directory's file system (4 KiB appends).
add_executable(carerelay-fsync-probe ${CMAKE_CURRENT_LIST_DIR}/fsync_probe.cc)
target_link_libraries(carerelay-fsync-probe PRIVATE carerelay_bench_support absl::str_format
  CLI11::CLI11 nlohmann_json::nlohmann_json)

add_executable(carerelay-bench ${CMAKE_CURRENT_LIST_DIR}/load_generator.cc)
target_link_libraries(carerelay-bench PRIVATE carerelay_bench_load carerelay_bench_devices
  CLI11::CLI11 nlohmann_json::nlohmann_json)
# The programs it starts by default, and the default --tls-script.
add_dependencies(carerelay-bench carerelayd carerelay-noop-relay carerelay-fsync-probe)
target_compile_definitions(carerelay-bench PRIVATE
  CARERELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  CARERELAYD_PATH="$<TARGET_FILE:carerelayd>"
  NOOP_RELAY_PATH="$<TARGET_FILE:carerelay-noop-relay>"
  FSYNC_PROBE_PATH="$<TARGET_FILE:carerelay-fsync-probe>")

# Smoke runs: that each run kind and phase runs and reports (the JSON parses
# and has its keys), never how fast. Two teams of three, a second per run,
# to stay well under a minute on a busy 2-core machine.
add_test(NAME carerelay_bench_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-bench>
    "-DARGS=--teams;2;--members;3;--in-flight;8;--duration;1;--warmup;0.3;--drain;5;--windows;1,16;--open-loop-rate;300;--max-lag-ms;1000;--tls-dir;${CMAKE_BINARY_DIR}/test-tls;--json"
    "-DKEYS=runs.0.envelopes_delivered_per_second;runs.0.latency_ms.p99_9;runs.0.server;runs.0.syncs;runs.0.fdatasync_probe;runs.0.load_average;runs.0.valid;runs.7.generator.lag_ms;summary.targets;machine.load_average_at_start"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
add_test(NAME carerelay_bench_scale_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-bench>
    "-DARGS=--no-load;--idle-streams;50;--backlog;3000;--backlog-devices;4;--tls-dir;${CMAKE_BINARY_DIR}/test-tls;--json"
    "-DKEYS=idle_streams.kib_per_stream;backlog.start_to_ready_seconds;backlog.drain_envelopes_per_second"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
set_tests_properties(carerelay_bench_smoke carerelay_bench_scale_smoke PROPERTIES
  LABELS bench FIXTURES_REQUIRED test_tls TIMEOUT 180
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
add_test(NAME fsync_probe_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-fsync-probe>
    "-DARGS=--dir;${CMAKE_CURRENT_BINARY_DIR};--seconds;0.3;--json"
    "-DKEYS=fdatasync_ms.p50;fdatasync_ms.p99;syncs;filesystem"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
set_tests_properties(fsync_probe_smoke PROPERTIES LABELS bench TIMEOUT 60
  ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")

# One command for every Google Benchmark micro-benchmark (store, crypto,
# attachment): cmake --build BUILD --target bench-micro
set(CARERELAY_MICRO_BENCHES carerelay-store-bench crypto_bench attachment_bench)
set(CARERELAY_MICRO_COMMANDS)
foreach(b ${CARERELAY_MICRO_BENCHES})
  if(TARGET ${b})
    list(APPEND CARERELAY_MICRO_COMMANDS COMMAND $<TARGET_FILE:${b}>)
  endif()
endforeach()
add_custom_target(bench-micro ${CARERELAY_MICRO_COMMANDS}
  DEPENDS ${CARERELAY_MICRO_BENCHES} USES_TERMINAL
  COMMENT "Running every micro-benchmark (bench/README.md)")
