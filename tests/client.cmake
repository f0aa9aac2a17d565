# Unit tests of the client library (client/): no network, no server.
carerelay_add_test(client_blind_index_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_blind_index_test.cc
  LIBS carerelay_blind_index OpenSSL::Crypto
  LABELS unit)

# The map of resources as CSV (client/resource_csv.h): a region's social map
# as spreadsheets write it, and the export read back.
carerelay_add_test(client_resource_csv_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_resource_csv_test.cc
  LIBS carerelay_client
  LABELS unit)
