# crypto_bench: libsignal pairwise and group messaging through carerelay_crypto,
# with encrypted RocksDB profiles in a temporary directory.
add_executable(crypto_bench ${CMAKE_CURRENT_LIST_DIR}/crypto_bench.cc)
target_link_libraries(crypto_bench PRIVATE carerelay_bench_support carerelay_crypto
  benchmark::benchmark)
target_include_directories(crypto_bench PRIVATE ${PROJECT_SOURCE_DIR})
# attachment_bench: client-side attachment encryption (crypto/attachment_cipher)
# against OpenSSL's raw AES-256-GCM and SHA-256 over the same 64 KiB chunks.
add_executable(attachment_bench ${CMAKE_CURRENT_LIST_DIR}/attachment_bench.cc)
target_link_libraries(attachment_bench PRIVATE carerelay_bench_support carerelay_crypto
  OpenSSL::Crypto benchmark::benchmark)
target_include_directories(attachment_bench PRIVATE ${PROJECT_SOURCE_DIR})
# history_bench: what a device keeps (client/history.h) in a sealed profile:
# keeping an entry, listing and searching a team's history.
add_executable(history_bench ${CMAKE_CURRENT_LIST_DIR}/history_bench.cc)
target_link_libraries(history_bench PRIVATE carerelay_bench_support carerelay_messenger
  benchmark::benchmark)
target_include_directories(history_bench PRIVATE ${PROJECT_SOURCE_DIR})
