// The catalog files built into the binary (generated from
// client/cli/catalog/<language>/*.txt by client/cli/embed_catalogs.cmake).
// Internal to catalog.cc; read the format in catalog.h.
#ifndef CARERELAY_CLIENT_CLI_CATALOG_FILES_H_
#define CARERELAY_CLIENT_CLI_CATALOG_FILES_H_

#include <cstddef>

namespace carerelay::cli::internal {

struct CatalogFile {
  const char* language;  // "en", "fr", "nl": the directory it came from
  const char* name;      // the file name, e.g. common.txt
  const char* text;      // the whole file
};

extern const CatalogFile kCatalogFiles[];
extern const size_t kCatalogFileCount;

}  // namespace carerelay::cli::internal

#endif  // CARERELAY_CLIENT_CLI_CATALOG_FILES_H_
