# Helpdesk and urgency (issue 6): a real carerelayd in-process over TLS, real
# RocksDB, real libsignal sessions, a fake clock driving the timers.
foreach(t urgent_messages_test intake_desk_test resource_map_test scheduler_test lock_order_test)
  carerelay_add_test(${t} SOURCES ${t}.cc
    LIBS carerelay_test_support carerelay_messenger LABELS integration)
endforeach()
