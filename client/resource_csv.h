// The map of resources as CSV (RFC 4180), so a region's existing social map
// can be loaded (carerelay resource import) and the map taken out again
// (carerelay resource export) for a spreadsheet.
//
// The first row names the columns, in any order, case aside:
//   id, name, kind, needs, address, areas, phone, hours, languages,
//   eligibility, referral, website, email, description, source_ref
// `name` and `kind` are required (kind: service, structure or activity);
// the others may be left out. Fields are separated by commas, or by
// semicolons when the header row has semicolons and no comma (as
// spreadsheets write CSV in Belgium and France); inside the list columns
// (needs, areas, languages) the values are separated by the other one of
// the two. Quoted fields may hold separators, newlines and doubled quotes.
// A UTF-8 byte-order mark is skipped; blank lines are ignored.
//
// Thread-safety: pure functions; thread-safe.
#ifndef CARERELAY_CLIENT_RESOURCE_CSV_H_
#define CARERELAY_CLIENT_RESOURCE_CSV_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/directory.pb.h"

namespace carerelay::client {

// One resource per data row. INVALID_ARGUMENT naming the line (counted from
// 1, the header included) for an unknown or repeated column, a missing
// name or kind column, an unknown kind, a row with more fields than the
// header, or an unterminated quote. Nothing else is checked here: the
// server checks the values (core/resource_map.h) and names the row.
absl::StatusOr<std::vector<v1::Resource>> ParseResourceCsv(absl::string_view text);

// Every column, comma-separated, lists joined by ';', fields quoted where
// needed; parses back to the same resources (ids included).
std::string WriteResourceCsv(const std::vector<v1::Resource>& resources);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_RESOURCE_CSV_H_
