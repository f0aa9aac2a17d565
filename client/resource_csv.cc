#include "client/resource_csv.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proto/resource_kinds.h"

namespace carerelay::client {
namespace {

enum class Column {
  kId,
  kName,
  kKind,
  kNeeds,
  kAddress,
  kAreas,
  kPhone,
  kHours,
  kLanguages,
  kEligibility,
  kReferral,
  kWebsite,
  kEmail,
  kDescription,
  kSourceRef,
};

constexpr std::pair<const char*, Column> kColumns[] = {
    {"id", Column::kId},
    {"name", Column::kName},
    {"kind", Column::kKind},
    {"needs", Column::kNeeds},
    {"address", Column::kAddress},
    {"areas", Column::kAreas},
    {"phone", Column::kPhone},
    {"hours", Column::kHours},
    {"languages", Column::kLanguages},
    {"eligibility", Column::kEligibility},
    {"referral", Column::kReferral},
    {"website", Column::kWebsite},
    {"email", Column::kEmail},
    {"description", Column::kDescription},
    {"source_ref", Column::kSourceRef},
};

// Splits `text` into records of fields, RFC 4180 style; each record with
// the line it starts on.
struct Record {
  int line = 0;
  std::vector<std::string> fields;
};

absl::StatusOr<std::vector<Record>> Split(absl::string_view text, char separator) {
  std::vector<Record> records;
  Record current;
  std::string field;
  bool quoted = false, any = false;
  int line = 1;
  current.line = 1;
  auto end_field = [&] {
    current.fields.push_back(std::move(field));
    field.clear();
  };
  auto end_record = [&] {
    end_field();
    const bool blank = current.fields.size() == 1 && current.fields[0].empty() && !any;
    if (!blank) records.push_back(std::move(current));
    current = Record();
    current.line = line;
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = any = true;
    } else if (c == separator) {
      end_field();
      any = true;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;  // the \n ends the record
    } else if (c == '\n') {
      ++line;
      end_record();
    } else {
      field.push_back(c);
      any = true;
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", current.line, ": a quoted field is never closed"));
  }
  end_record();
  return records;
}

std::vector<std::string> List(absl::string_view cell, char separator) {
  std::vector<std::string> values;
  for (absl::string_view v : absl::StrSplit(cell, separator)) {
    v = absl::StripAsciiWhitespace(v);
    if (!v.empty()) values.emplace_back(v);
  }
  return values;
}

std::string Quoted(const std::string& field) {
  if (field.find_first_of(",;\"\n\r") == std::string::npos) return field;
  return absl::StrCat("\"", absl::StrReplaceAll(field, {{"\"", "\"\""}}), "\"");
}

}  // namespace

absl::StatusOr<std::vector<v1::Resource>> ParseResourceCsv(absl::string_view text) {
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");  // a spreadsheet's byte-order mark
  const absl::string_view header_line = text.substr(0, text.find('\n'));
  const char separator =
      absl::StrContains(header_line, ';') && !absl::StrContains(header_line, ',') ? ';' : ',';
  const char list_separator = separator == ',' ? ';' : ',';
  auto records = Split(text, separator);
  if (!records.ok()) return records.status();
  if (records->empty()) {
    return absl::InvalidArgumentError("the file is empty: the first row names the columns");
  }
  const Record& header = records->front();
  std::vector<Column> columns;
  std::map<Column, bool> seen;
  for (const std::string& name : header.fields) {
    const std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
    bool known = false;
    for (const auto& [column_name, column] : kColumns) {
      if (key != column_name) continue;
      if (seen[column]) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", header.line, ": the column \"", key, "\" is named twice"));
      }
      seen[column] = known = true;
      columns.push_back(column);
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", header.line, ": unknown column \"", name,
          "\" (the columns are id, name, kind, needs, address, areas, phone, hours, languages, "
          "eligibility, referral, website, email, description, source_ref)"));
    }
  }
  if (!seen[Column::kName] || !seen[Column::kKind]) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", header.line, ": the columns name and kind are required"));
  }
  std::vector<v1::Resource> resources;
  for (size_t r = 1; r < records->size(); ++r) {
    const Record& record = (*records)[r];
    if (record.fields.size() > columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", record.line, ": ",
                                                     record.fields.size(), " fields for ",
                                                     columns.size(), " columns"));
    }
    v1::Resource resource;
    for (size_t i = 0; i < record.fields.size(); ++i) {
      const std::string value(absl::StripAsciiWhitespace(record.fields[i]));
      switch (columns[i]) {
        case Column::kId:
          resource.set_resource_id(value);
          break;
        case Column::kName:
          resource.set_name(value);
          break;
        case Column::kKind:
          resource.set_kind(ResourceKindFromToken(value));
          if (resource.kind() == v1::RESOURCE_KIND_UNSPECIFIED) {
            return absl::InvalidArgumentError(
                absl::StrCat("line ", record.line, ": kind \"", value,
                             "\" is not service, structure or activity"));
          }
          break;
        case Column::kNeeds:
          for (auto& v : List(value, list_separator)) resource.add_needs(std::move(v));
          break;
        case Column::kAddress:
          resource.set_address(value);
          break;
        case Column::kAreas:
          for (auto& v : List(value, list_separator)) resource.add_areas(std::move(v));
          break;
        case Column::kPhone:
          resource.set_phone(value);
          break;
        case Column::kHours:
          resource.set_hours(value);
          break;
        case Column::kLanguages:
          for (auto& v : List(value, list_separator)) resource.add_languages(std::move(v));
          break;
        case Column::kEligibility:
          resource.set_eligibility(value);
          break;
        case Column::kReferral:
          resource.set_referral(value);
          break;
        case Column::kWebsite:
          resource.set_website(value);
          break;
        case Column::kEmail:
          resource.set_email(value);
          break;
        case Column::kDescription:
          resource.set_description(value);
          break;
        case Column::kSourceRef:
          resource.set_source_ref(value);
          break;
      }
    }
    resources.push_back(std::move(resource));
  }
  return resources;
}

std::string WriteResourceCsv(const std::vector<v1::Resource>& resources) {
  std::vector<std::string> names;
  for (const auto& [name, column] : kColumns) names.push_back(name);
  std::string out = absl::StrCat(absl::StrJoin(names, ","), "\r\n");
  for (const v1::Resource& r : resources) {
    const std::vector<std::string> fields = {
        r.resource_id(),
        r.name(),
        ResourceKindToken(r.kind()),
        absl::StrJoin(r.needs(), ";"),
        r.address(),
        absl::StrJoin(r.areas(), ";"),
        r.phone(),
        r.hours(),
        absl::StrJoin(r.languages(), ";"),
        r.eligibility(),
        r.referral(),
        r.website(),
        r.email(),
        r.description(),
        r.source_ref(),
    };
    std::vector<std::string> quoted;
    for (const std::string& f : fields) quoted.push_back(Quoted(f));
    absl::StrAppend(&out, absl::StrJoin(quoted, ","), "\r\n");
  }
  return out;
}

}  // namespace carerelay::client
