# Unit tests of the client library (client/): no network, no server.
carerelay_add_test(client_blind_index_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_blind_index_test.cc
  LIBS carerelay_blind_index OpenSSL::Crypto
  LABELS unit)
