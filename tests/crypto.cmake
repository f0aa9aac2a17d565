# Unit tests of crypto/: real libsignal, real RocksDB profiles in temporary
# directories under /tmp (no network, no server).
foreach(test_name
    crypto_at_rest_cipher_test
    crypto_content_codec_test
    crypto_group_manager_test
    crypto_key_manager_test
    crypto_openssl_provider_test
    crypto_padding_test
    crypto_profile_store_test
    crypto_safety_number_test
    crypto_session_manager_test)
  carerelay_add_test(${test_name}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${test_name}.cc
    LIBS carerelay_crypto
    LABELS unit)
endforeach()
# The attachment cipher. The same source also builds the slow 40 MiB file
# test alone, labelled "large" so that `ctest -LE large` skips it. That one is
# a plain add_test: carerelay_add_test hands its LABELS to
# gtest_discover_tests inside a PROPERTIES list, where a second label would be
# read as a property name.
carerelay_add_test(crypto_attachment_cipher_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/crypto_attachment_cipher_test.cc
  LIBS carerelay_crypto OpenSSL::Crypto
  LABELS unit)
add_executable(crypto_attachment_cipher_large_test
  ${CMAKE_CURRENT_LIST_DIR}/crypto_attachment_cipher_test.cc)
target_compile_definitions(crypto_attachment_cipher_large_test PRIVATE
  CARERELAY_ATTACHMENT_LARGE_TESTS)
target_include_directories(crypto_attachment_cipher_large_test PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(crypto_attachment_cipher_large_test PRIVATE
  carerelay_crypto OpenSSL::Crypto GTest::gtest GTest::gtest_main)
add_test(NAME AttachmentLargeFileTest COMMAND crypto_attachment_cipher_large_test)
set_tests_properties(AttachmentLargeFileTest PROPERTIES
  LABELS "unit;large" TIMEOUT 600 ENVIRONMENT "${CARERELAY_TEST_ENVIRONMENT}")
