// carerelay-fuzz-replay: runs fuzz inputs through their target once each,
// without libFuzzer, in any build (fuzz_target.h). ctest runs it over the
// committed corpora (fuzz/corpus/<target>/), so that every seed and every
// input that once found a bug keep being run, under ASan/UBSan in CI too.
//
//   carerelay-fuzz-replay TARGET PATH...    replay files, or every file of directories
//   carerelay-fuzz-replay --write-seeds DIR write each target's seeds to DIR/<target>/
//   carerelay-fuzz-replay --check-corpus DIR every target has DIR/<target>/ with its seeds
//   carerelay-fuzz-replay --list            the targets' names
//
// Exit: 0 done; 1 a corpus is missing seeds; 2 usage or unreadable input.
// A finding aborts (FuzzCheck, or the sanitizers).
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/escaping.h"
#include "fuzz/fuzz_target.h"

namespace carerelay::fuzz {
namespace {

namespace fs = std::filesystem;

// libFuzzer's own name for a corpus file: the SHA-1 of its bytes, so the
// seeds written here and the inputs libFuzzer adds never collide twice.
std::string CorpusName(const std::string& input) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), md, &len, EVP_sha1(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int Replay(const FuzzTarget& target, const std::vector<std::string>& paths) {
  size_t runs = 0;
  for (const std::string& path : paths) {
    std::vector<fs::path> files;
    std::error_code error;
    if (fs::is_directory(path, error)) {
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else if (fs::is_regular_file(path, error)) {
      files.push_back(path);
    } else {
      std::cerr << "no such file or directory: " << path << "\n";
      return 2;
    }
    for (const fs::path& file : files) {
      target.run(ReadFile(file));
      ++runs;
    }
  }
  std::cout << target.name << ": " << runs << " inputs replayed, no finding\n";
  return 0;
}

int WriteSeeds(const fs::path& dir) {
  for (const FuzzTarget& target : FuzzTargets()) {
    const fs::path sub = dir / target.name;
    fs::create_directories(sub);
    for (const std::string& seed : target.seeds()) {
      std::ofstream(sub / CorpusName(seed), std::ios::binary) << seed;
    }
    std::cout << sub.string() << "\n";
  }
  return 0;
}

int CheckCorpus(const fs::path& dir) {
  int missing = 0;
  for (const FuzzTarget& target : FuzzTargets()) {
    for (const std::string& seed : target.seeds()) {
      if (!fs::exists(dir / target.name / CorpusName(seed))) {
        std::cout << target.name << ": seed " << CorpusName(seed)
                  << " is not in the corpus (run --write-seeds)\n";
        ++missing;
      }
    }
  }
  std::cout << (missing == 0 ? "every target's seeds are in the corpus\n" : "");
  return missing == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--list") {
    for (const FuzzTarget& target : FuzzTargets()) std::cout << target.name << "\n";
    return 0;
  }
  if (args.size() == 2 && args[0] == "--write-seeds") return WriteSeeds(args[1]);
  if (args.size() == 2 && args[0] == "--check-corpus") return CheckCorpus(args[1]);
  if (args.size() >= 2 && args[0][0] != '-') {
    const FuzzTarget* target = FindFuzzTarget(args[0]);
    if (target == nullptr) {
      std::cerr << "no fuzz target " << args[0] << " (--list shows them)\n";
      return 2;
    }
    return Replay(*target, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "usage: carerelay-fuzz-replay TARGET PATH... | --write-seeds DIR | "
               "--check-corpus DIR | --list\n";
  return 2;
}

}  // namespace
}  // namespace carerelay::fuzz

int main(int argc, char** argv) { return carerelay::fuzz::Main(argc, argv); }
