#include "fuzz/fuzz_target.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>

namespace carerelay::fuzz {
namespace {

// A function-local static: registrations run during static initialisation,
// in an order across files that nothing fixes.
std::map<std::string, FuzzTarget>& Registry() {
  static std::map<std::string, FuzzTarget> registry;
  return registry;
}

}  // namespace

bool RegisterFuzzTarget(const FuzzTarget& target) {
  if (!Registry().emplace(target.name, target).second) {
    std::cerr << "fuzz target registered twice: " << target.name << "\n";
    std::abort();
  }
  return true;
}

std::vector<FuzzTarget> FuzzTargets() {
  std::vector<FuzzTarget> all;
  for (const auto& [name, target] : Registry()) all.push_back(target);
  return all;
}

const FuzzTarget* FindFuzzTarget(absl::string_view name) {
  auto it = Registry().find(std::string(name));
  return it == Registry().end() ? nullptr : &it->second;
}

void FuzzCheck(bool condition, absl::string_view what) {
  if (condition) return;
  std::cerr << "FUZZ FINDING: " << what << std::endl;
  std::abort();
}

}  // namespace carerelay::fuzz
