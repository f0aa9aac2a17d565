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
