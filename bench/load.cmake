# carerelay-bench (issue 8): the load generator with its baselines (a no-op
# gRPC service of the Messages shapes, raw RocksDB), idle-stream scale and
# restart with a backlog. Measured, never asserted. See bench/README.md.

# The no-op service, generated as proto/CMakeLists.txt generates the API; it
# imports carerelay/v1/messages.proto, whose code carerelay_proto holds.
add_library(carerelay_bench_noop_proto STATIC
  ${CMAKE_CURRENT_LIST_DIR}/noop_service.proto)
target_link_libraries(carerelay_bench_noop_proto PUBLIC carerelay_proto)
target_include_directories(carerelay_bench_noop_proto PUBLIC ${CMAKE_CURRENT_BINARY_DIR})
protobuf_generate(TARGET carerelay_bench_noop_proto LANGUAGE cpp
  IMPORT_DIRS ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/proto
  PROTOC_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
protobuf_generate(TARGET carerelay_bench_noop_proto LANGUAGE grpc
  GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
  PLUGIN "protoc-gen-grpc=\$<TARGET_FILE:gRPC::grpc_cpp_plugin>"
  IMPORT_DIRS ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/proto
  PROTOC_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR})

add_executable(carerelay-bench ${CMAKE_CURRENT_LIST_DIR}/load_generator.cc)
target_include_directories(carerelay-bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay-bench PRIVATE carerelay_bench_relay carerelay_bench_noop_proto
  carerelay_server carerelay_client RocksDB::rocksdb CLI11::CLI11 nlohmann_json::nlohmann_json)
# The server it spawns by default, and the default --tls-script.
add_dependencies(carerelay-bench carerelayd)
target_compile_definitions(carerelay-bench PRIVATE
  CARERELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  CARERELAYD_PATH="$<TARGET_FILE:carerelayd>")

# Smoke runs: that each phase runs and reports (the JSON parses and has its
# keys), never how fast. A few teams, a second each, to stay well under 20 s
# on a busy 2-core machine.
add_test(NAME carerelay_bench_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-bench>
    "-DARGS=--teams;2;--members;3;--concurrency;4;--duration;1;--warmup;0.3;--tls-dir;${CMAKE_BINARY_DIR}/test-tls;--json"
    "-DKEYS=summary;runs;rocksdb_runs;setup_seconds"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
add_test(NAME carerelay_bench_scale_smoke
  COMMAND ${CMAKE_COMMAND}
    -DBENCH=$<TARGET_FILE:carerelay-bench>
    "-DARGS=--no-load;--idle-streams;50;--backlog;20000;--backlog-devices;4;--tls-dir;${CMAKE_BINARY_DIR}/test-tls;--json"
    "-DKEYS=idle_streams;backlog"
    -P ${CMAKE_CURRENT_LIST_DIR}/check_json.cmake)
set_tests_properties(carerelay_bench_smoke carerelay_bench_scale_smoke PROPERTIES
  LABELS bench FIXTURES_REQUIRED test_tls TIMEOUT 120
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
