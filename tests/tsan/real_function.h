// For the ThreadSanitizer annotations of this directory, which define a
// library's functions again in the executable: the library's own definition
// of `symbol` (the next one in symbol lookup order), as a function pointer of
// type F. Aborts with a message naming `library` when it is not there: the
// annotations were written against another version of it.
#ifndef CARERELAY_TESTS_TSAN_REAL_FUNCTION_H_
#define CARERELAY_TESTS_TSAN_REAL_FUNCTION_H_

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace carerelay::tsan {

template <typename F>
F RealFunction(const char* symbol, const char* library) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (!f) {
    std::fprintf(stderr, "tsan annotations: %s not found in %s\n", symbol, library);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

}  // namespace carerelay::tsan

#endif  // CARERELAY_TESTS_TSAN_REAL_FUNCTION_H_
