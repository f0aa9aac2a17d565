# Crash test: carerelayd as its own process (CARERELAYD_PATH), killed with
# SIGKILL mid-load and restarted on the same data directory; every
# acknowledged send must still be delivered; and the same process's memory
# under oversized requests without credentials (ServerProcessTest). Label
# "crash".
if(TARGET carerelayd)
  carerelay_add_test(crash_test SOURCES crash_test.cc LIBS carerelay_test_support LABELS crash)
  # The test runs the server binary, so building the test builds it.
  add_dependencies(crash_test carerelayd)
endif()
