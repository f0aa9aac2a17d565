# Power-loss tests (issue 14, "Durability must be proven, not assumed"): a
# RocksDB environment that drops everything not made durable at a simulated
# power loss (power_loss_env.h), its own test, and the relay run under it in
# a loop of power losses (power_loss_test.cc).
add_library(carerelay_power_loss_env STATIC power_loss_env.cc)
target_include_directories(carerelay_power_loss_env PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(carerelay_power_loss_env PUBLIC RocksDB::rocksdb
  absl::status absl::statusor absl::strings absl::synchronization absl::flat_hash_map)

# As carerelay_add_test (CMakeLists.txt), with the test names prefixed by
# "power_loss." so that `ctest -R power` selects them (ctest's -R is case
# sensitive and gtest names are CamelCase).
function(carerelay_add_power_loss_test name label)
  add_executable(${name} ${name}.cc)
  target_link_libraries(${name} PRIVATE carerelay_power_loss_env carerelay_test_support
    GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "power_loss."
    PROPERTIES LABELS "${label}" FIXTURES_REQUIRED test_tls TIMEOUT 600
               ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
endfunction()

# The environment itself, and the store (store::Database) on it: no network.
carerelay_add_power_loss_test(power_loss_env_test unit)
# The relay in-process over TLS on loopback under concurrent sends and
# acknowledgements, power lost at random moments.
carerelay_add_power_loss_test(power_loss_test integration)
