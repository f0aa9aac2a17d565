# Disk full and I/O errors (issue 16, item 5): a RocksDB environment with a
# byte budget and injected EIO (disk_full_env.h), and the relay in-process
# over TLS on it (disk_full_test.cc), once on a real tmpfs where the machine
# lets the test mount one.
add_library(carerelay_disk_full_env STATIC disk_full_env.cc)
target_include_directories(carerelay_disk_full_env PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay_disk_full_env PUBLIC RocksDB::rocksdb
  absl::strings absl::synchronization absl::flat_hash_map)

# Test names prefixed with "disk_full." so that `ctest -R disk_full` selects
# them (ctest's -R is case sensitive and gtest names are CamelCase).
add_executable(disk_full_test disk_full_test.cc)
target_link_libraries(disk_full_test PRIVATE carerelay_disk_full_env carerelay_power_loss_env
  carerelay_test_support OpenSSL::Crypto GTest::gtest GTest::gtest_main)
target_include_directories(disk_full_test PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(disk_full_test PRIVATE CARERELAYD_PATH="$<TARGET_FILE:carerelayd>"
  CARERELAY_CLI_PATH="$<TARGET_FILE:carerelay>")
gtest_discover_tests(disk_full_test DISCOVERY_TIMEOUT 60 TEST_PREFIX "disk_full."
  PROPERTIES LABELS integration FIXTURES_REQUIRED test_tls TIMEOUT 600
             ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
