# crypto_bench: libsignal pairwise and group messaging through carerelay_crypto,
# with encrypted RocksDB profiles in a temporary directory.
add_executable(crypto_bench ${CMAKE_CURRENT_LIST_DIR}/crypto_bench.cc)
target_link_libraries(crypto_bench PRIVATE carerelay_crypto benchmark::benchmark)
target_include_directories(crypto_bench PRIVATE ${PROJECT_SOURCE_DIR})
