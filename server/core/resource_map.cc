#include "server/core/resource_map.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "proto/resource_kinds.h"
#include "server/core/account_functions.h"
#include "text/latin_folding.h"

namespace carerelay::core {
namespace {

constexpr size_t kMaxShort = 100;  // phone, email
constexpr size_t kMaxLine = 200;   // name, address, hours, website
constexpr size_t kMaxLong = 300;   // eligibility, referral
constexpr size_t kMaxText = 500;   // description
constexpr size_t kMaxRef = 64;     // source_ref, each need and area
constexpr int kMaxAreas = 32;
constexpr int kMaxNeeds = 16;
constexpr int kMaxLanguages = 8;
constexpr size_t kDefaultPage = 50;
constexpr size_t kMaxPage = 500;

absl::Status Bounded(absl::string_view field, const std::string& value, size_t max,
                     bool lines = false) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("a resource's ", field, " is at most ", max, " bytes"));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(lines && c == '\n')) || u == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("a resource's ", field, " has a control character"));
    }
  }
  return absl::OkStatus();
}

absl::Status BoundedList(absl::string_view field,
                         const google::protobuf::RepeatedPtrField<std::string>& values, int max) {
  if (values.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat("a resource has at most ", max, " ", field));
  }
  for (const std::string& v : values) {
    if (v.empty()) return absl::InvalidArgumentError(absl::StrCat("an empty entry in ", field));
    absl::Status s = Bounded(field, v, kMaxRef);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// How an import row without an id finds the entry it updates.
std::string NameAndAddress(const v1::Resource& r) {
  return absl::StrCat(text::FoldForSearch(absl::StripAsciiWhitespace(r.name())), "\n",
                      text::FoldForSearch(absl::StripAsciiWhitespace(r.address())));
}

// The order of a listing, and its page token: the folded name, then the id.
std::string OrderKey(const v1::Resource& r) {
  return absl::StrCat(text::FoldForSearch(r.name()), std::string(1, '\0'), r.resource_id());
}

bool Matches(const v1::Resource& r, const std::vector<std::string>& need_words,
             const std::string& area, const std::string& language) {
  if (!need_words.empty()) {
    std::string haystack = absl::StrCat(r.name(), "\n", ResourceKindToken(r.kind()), "\n",
                                        absl::StrJoin(r.needs(), "\n"), "\n", r.description());
    haystack = text::FoldForSearch(haystack);
    for (const std::string& word : need_words) {
      if (!absl::StrContains(haystack, word)) return false;
    }
  }
  if (!area.empty()) {
    const bool postcode =
        std::all_of(area.begin(), area.end(), [](char c) { return absl::ascii_isdigit(c); });
    bool found = !postcode && absl::StrContains(text::FoldForSearch(r.address()), area);
    for (const std::string& served : r.areas()) {
      const std::string folded = text::FoldForSearch(served);
      found =
          found || (postcode ? absl::StartsWith(folded, area) : absl::StrContains(folded, area));
    }
    if (!found) return false;
  }
  if (!language.empty()) {
    bool found = false;
    for (const std::string& l : r.languages()) {
      const std::string lower = absl::AsciiStrToLower(l);
      found = found || lower == language || absl::StartsWith(lower, language + "-");
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

ResourceMap::ResourceMap(store::Database* db, store::ResourceTable* table,
                         const AccountRegistry* accounts, const Clock* clock)
    : db_(db), table_(table), accounts_(accounts), clock_(clock) {}

absl::Status ResourceMap::Check(const v1::Resource& r) {
  if (absl::StripAsciiWhitespace(r.name()).empty()) {
    return absl::InvalidArgumentError("a resource needs a name");
  }
  if (r.kind() == v1::RESOURCE_KIND_UNSPECIFIED || !v1::ResourceKind_IsValid(r.kind())) {
    return absl::InvalidArgumentError(
        "a resource needs its kind: a service, a structure or an activity");
  }
  if (!r.resource_id().empty()) {
    auto id = store::ResourceId::FromHex(r.resource_id());
    if (!id.ok()) return id.status();
  }
  const std::pair<const char*, std::pair<const std::string*, size_t>> fields[] = {
      {"name", {&r.name(), kMaxLine}},
      {"address", {&r.address(), kMaxLine}},
      {"hours", {&r.hours(), kMaxLine}},
      {"website", {&r.website(), kMaxLine}},
      {"phone", {&r.phone(), kMaxShort}},
      {"email", {&r.email(), kMaxShort}},
      {"eligibility", {&r.eligibility(), kMaxLong}},
      {"referral", {&r.referral(), kMaxLong}},
      {"source_ref", {&r.source_ref(), kMaxRef}},
  };
  for (const auto& [name, field] : fields) {
    absl::Status s = Bounded(name, *field.first, field.second);
    if (!s.ok()) return s;
  }
  absl::Status s = Bounded("description", r.description(), kMaxText, /*lines=*/true);
  if (s.ok()) s = BoundedList("areas", r.areas(), kMaxAreas);
  if (s.ok()) s = BoundedList("needs", r.needs(), kMaxNeeds);
  if (!s.ok()) return s;
  if (r.languages_size() > kMaxLanguages) {
    return absl::InvalidArgumentError(
        absl::StrCat("a resource has at most ", kMaxLanguages, " languages"));
  }
  for (const std::string& l : r.languages()) {
    const bool tag = l.size() >= 2 && l.size() <= 8 && std::all_of(l.begin(), l.end(), [](char c) {
                       return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '-';
                     });
    if (!tag) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", absl::CHexEscape(l), "\" is not a language code (fr, nl, de, en)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ResourceMap::RequireHelpdesk(const store::DeviceRef& caller) const {
  auto account = accounts_->GetAccount(caller.account);
  if (!account.ok()) return account.status();
  if (!HasFunction(*account, v1::FUNCTION_HELPDESK)) {
    return absl::PermissionDeniedError(
        "only accounts with the helpdesk function maintain the map of resources");
  }
  return absl::OkStatus();
}

v1::Resource ResourceMap::Stamped(v1::Resource resource, const store::ResourceId& id,
                                  const store::DeviceRef& caller) const {
  // Everyone's searches read every entry: nothing the server does not know
  // is stored.
  resource.DiscardUnknownFields();
  resource.set_resource_id(id.Hex());
  resource.set_name(std::string(absl::StripAsciiWhitespace(resource.name())));
  resource.set_address(std::string(absl::StripAsciiWhitespace(resource.address())));
  for (std::string& l : *resource.mutable_languages()) absl::AsciiStrToLower(&l);
  resource.set_updated_at_ms(clock_->NowMs());
  resource.set_updated_by_account_id(caller.account.Hex());
  return resource;
}

absl::StatusOr<v1::Resource> ResourceMap::Put(const store::DeviceRef& caller,
                                              const v1::Resource& resource) {
  absl::Status s = RequireHelpdesk(caller);
  if (s.ok()) s = Check(resource);
  if (!s.ok()) return s;
  auto txn = db_->Begin();
  store::ResourceId id = store::ResourceId::Random();
  if (!resource.resource_id().empty()) {
    id = *store::ResourceId::FromHex(resource.resource_id());
    auto before = table_->GetForUpdate(*txn, id);
    if (absl::IsNotFound(before.status())) {
      return absl::NotFoundError(absl::StrCat("no resource ", id.Hex()));
    }
    if (!before.ok()) return before.status();
  }
  v1::Resource stored = Stamped(resource, id, caller);
  s = table_->Put(*txn, id, stored);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  return stored;
}

absl::StatusOr<v1::ImportResourcesResponse> ResourceMap::Import(
    const store::DeviceRef& caller, const v1::ImportResourcesRequest& request) {
  absl::Status s = RequireHelpdesk(caller);
  if (!s.ok()) return s;
  if (request.resources_size() > kMaxImportRows) {
    return absl::InvalidArgumentError(absl::StrCat("an import takes at most ", kMaxImportRows,
                                                   " rows a call; send the rest in another"));
  }
  for (int i = 0; i < request.resources_size(); ++i) {
    s = Check(request.resources(i));
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i + 1, ": ", s.message()));
    }
  }
  // What the rows are matched by, over the entries there now.
  std::map<std::string, std::string> by_source, by_name;  // -> resource id hex
  s = table_->ForEach([&](const v1::Resource& r) {
    if (!r.source_ref().empty()) by_source[r.source_ref()] = r.resource_id();
    by_name[NameAndAddress(r)] = r.resource_id();
    return true;
  });
  if (!s.ok()) return s;

  auto txn = db_->Begin();
  v1::ImportResourcesResponse response;
  for (const v1::Resource& row : request.resources()) {
    std::string hex = row.resource_id();
    if (hex.empty() && !row.source_ref().empty()) {
      auto it = by_source.find(row.source_ref());
      if (it != by_source.end()) hex = it->second;
    }
    if (hex.empty()) {
      auto it = by_name.find(NameAndAddress(row));
      if (it != by_name.end()) hex = it->second;
    }
    const store::ResourceId id =
        hex.empty() ? store::ResourceId::Random() : *store::ResourceId::FromHex(hex);
    auto before = table_->GetForUpdate(*txn, id);
    if (!before.ok() && !absl::IsNotFound(before.status())) return before.status();
    // A row seen earlier in this import is in the transaction already.
    const bool exists = before.ok();
    v1::Resource stored = Stamped(row, id, caller);
    s = table_->Put(*txn, id, stored);
    if (!s.ok()) return s;
    if (!stored.source_ref().empty()) by_source[stored.source_ref()] = stored.resource_id();
    by_name[NameAndAddress(stored)] = stored.resource_id();
    response.set_created(response.created() + (exists ? 0 : 1));
    response.set_updated(response.updated() + (exists ? 1 : 0));
    *response.add_resources() = std::move(stored);
  }
  s = txn->Commit();
  if (!s.ok()) return s;
  return response;
}

absl::Status ResourceMap::Remove(const store::DeviceRef& caller, absl::string_view resource_id) {
  absl::Status s = RequireHelpdesk(caller);
  if (!s.ok()) return s;
  auto id = store::ResourceId::FromHex(resource_id);
  if (!id.ok()) return id.status();
  auto txn = db_->Begin();
  auto before = table_->GetForUpdate(*txn, *id);
  if (absl::IsNotFound(before.status())) {
    return absl::NotFoundError(absl::StrCat("no resource ", id->Hex()));
  }
  if (!before.ok()) return before.status();
  s = table_->Delete(*txn, *id);
  if (!s.ok()) return s;
  return txn->Commit();
}

absl::StatusOr<v1::Resource> ResourceMap::Get(absl::string_view resource_id) const {
  auto id = store::ResourceId::FromHex(resource_id);
  if (!id.ok()) return id.status();
  auto resource = table_->Get(*id);
  if (absl::IsNotFound(resource.status())) {
    return absl::NotFoundError(absl::StrCat("no resource ", id->Hex()));
  }
  return resource;
}

absl::StatusOr<v1::SearchResourcesResponse> ResourceMap::Search(
    const v1::SearchResourcesRequest& r) const {
  const size_t limit = r.limit() == 0 ? kDefaultPage : std::min<size_t>(r.limit(), kMaxPage);
  std::vector<std::string> need_words = absl::StrSplit(
      text::FoldForSearch(r.need()), absl::ByAnyChar(" \t,"), absl::SkipWhitespace());
  const std::string area = text::FoldForSearch(absl::StripAsciiWhitespace(r.area()));
  const std::string language = absl::AsciiStrToLower(absl::StripAsciiWhitespace(r.language()));
  const bool hex = r.page_token().size() % 2 == 0 &&
                   std::all_of(r.page_token().begin(), r.page_token().end(), [](char c) {
                     return absl::ascii_isxdigit(static_cast<unsigned char>(c));
                   });
  if (!hex) return absl::InvalidArgumentError("page_token is not one this server gave");
  const std::string after = absl::HexStringToBytes(r.page_token());
  std::vector<std::pair<std::string, v1::Resource>> found;  // by order key
  absl::Status s = table_->ForEach([&](const v1::Resource& resource) {
    if (r.kind() != v1::RESOURCE_KIND_UNSPECIFIED && resource.kind() != r.kind()) return true;
    if (!Matches(resource, need_words, area, language)) return true;
    std::string key = OrderKey(resource);
    if (key > after) found.emplace_back(std::move(key), resource);
    return true;
  });
  if (!s.ok()) return s;
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  v1::SearchResourcesResponse response;
  for (size_t i = 0; i < found.size() && i < limit; ++i) {
    *response.add_resources() = std::move(found[i].second);
  }
  if (found.size() > limit) {
    response.set_next_page_token(absl::BytesToHexString(found[limit - 1].first));
  }
  return response;
}

}  // namespace carerelay::core
