// carerelay-fuzz: the libFuzzer driver of the fuzz targets (fuzz_target.h),
// built only with clang and -DCARERELAY_SANITIZE=fuzzer. The target comes
// from the environment, so that one binary serves them all:
//
//   CARERELAY_FUZZ_TARGET=service_teams build-fuzz/fuzz/carerelay-fuzz \
//       -runs=1000000 fuzz/corpus/service_teams
//
// fuzz/README.md has the whole procedure.
#include <cstdint>
#include <cstdlib>
#include <iostream>

#include "fuzz/fuzz_target.h"

namespace {
const carerelay::fuzz::FuzzTarget* target = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* name = std::getenv("CARERELAY_FUZZ_TARGET");
  target = name == nullptr ? nullptr : carerelay::fuzz::FindFuzzTarget(name);
  if (target == nullptr) {
    std::cerr << "set CARERELAY_FUZZ_TARGET to one of:\n";
    for (const auto& t : carerelay::fuzz::FuzzTargets()) std::cerr << "  " << t.name << "\n";
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  target->run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
