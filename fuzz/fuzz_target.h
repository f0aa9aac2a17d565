// The fuzz targets of issue 16 (item 2), and how they are found.
//
// A target is a function of one input (bytes) that drives one way in for
// untrusted data: a service's requests, the client's receive path, a codec,
// the attachment decryptor, the audit-chain verifier, the config file. Each
// target also writes its seed inputs, from which fuzz/corpus/<name>/ is
// made (carerelay-fuzz-replay --write-seeds).
//
// The same targets run under two drivers:
// - carerelay-fuzz-replay (every build, gcc or clang, with or without
//   sanitizers): runs each file of a corpus once. ctest replays
//   fuzz/corpus/ so that every input that ever found a bug keeps being run,
//   in the regular build and under ASan/UBSan in CI.
// - carerelay-fuzz (clang only, -DCARERELAY_SANITIZE=fuzzer): libFuzzer,
//   for the long runs; CARERELAY_FUZZ_TARGET=<name> picks the target.
// fuzz/README.md says how to run both.
//
// A target returns normally for any input: an error status from the code
// under test is an expected answer. It aborts (FuzzCheck) when an invariant
// of the code under test is broken, e.g. a decoder accepted what it cannot
// have produced, or a server answered with a status its proto does not
// document (INTERNAL, UNKNOWN).
//
// Thread-safety: targets are called from one thread at a time (both drivers
// do); their fixtures are created on first use and live until exit.
#ifndef CARERELAY_FUZZ_FUZZ_TARGET_H_
#define CARERELAY_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace carerelay::fuzz {

struct FuzzTarget {
  const char* name;  // also the corpus directory's name
  void (*run)(absl::string_view input);
  std::vector<std::string> (*seeds)();
};

// Registers a target (at static initialisation: CARERELAY_FUZZ_TARGET).
bool RegisterFuzzTarget(const FuzzTarget& target);
// Every registered target, in name order.
std::vector<FuzzTarget> FuzzTargets();
// The target called `name`, or nullptr.
const FuzzTarget* FindFuzzTarget(absl::string_view name);

// Aborts with `what` when `condition` is false: a finding. Not assert():
// it must hold in release builds too.
void FuzzCheck(bool condition, absl::string_view what);

}  // namespace carerelay::fuzz

// Registers a target at static initialisation. The targets' objects are
// linked whole (an OBJECT library in fuzz/CMakeLists.txt), so nothing drops
// these registrations.
#define CARERELAY_FUZZ_TARGET(var, name, run, seeds) \
  static const bool var =                            \
      ::carerelay::fuzz::RegisterFuzzTarget(::carerelay::fuzz::FuzzTarget{name, run, seeds})

#endif  // CARERELAY_FUZZ_FUZZ_TARGET_H_
