#include "client/cli/resource_commands.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/resource_csv.h"
#include "proto/resource_kinds.h"

namespace carerelay::cli {
namespace {

// The rows one ImportResources call takes (core/resource_map.h).
constexpr size_t kImportBatch = 500;

std::string KindLabel(v1::ResourceKind kind) {
  switch (kind) {
    case v1::RESOURCE_KIND_SERVICE:
      return Tr("resource.kind_service");
    case v1::RESOURCE_KIND_STRUCTURE:
      return Tr("resource.kind_structure");
    case v1::RESOURCE_KIND_ACTIVITY:
      return Tr("resource.kind_activity");
    default:
      return "";
  }
}

}  // namespace

nlohmann::json ResourceJson(const v1::Resource& r) {
  return {{"resource_id", r.resource_id()},
          {"name", r.name()},
          {"kind", ResourceKindToken(r.kind())},
          {"needs", r.needs()},
          {"address", r.address()},
          {"areas", r.areas()},
          {"phone", r.phone()},
          {"hours", r.hours()},
          {"languages", r.languages()},
          {"eligibility", r.eligibility()},
          {"referral", r.referral()},
          {"website", r.website()},
          {"email", r.email()},
          {"description", r.description()},
          {"source_ref", r.source_ref()},
          {"updated", FormatTime(r.updated_at_ms())}};
}

std::string ResourceLine(const v1::Resource& r) {
  std::string line = absl::StrCat(r.resource_id(), "  ", r.name(), " (", KindLabel(r.kind()), ")");
  for (const std::string* f : {&r.phone(), &r.hours()}) {
    if (!f->empty()) absl::StrAppend(&line, "  ", *f);
  }
  if (r.languages_size() > 0) absl::StrAppend(&line, "  ", absl::StrJoin(r.languages(), "/"));
  if (r.areas_size() > 0) absl::StrAppend(&line, "  [", absl::StrJoin(r.areas(), ", "), "]");
  return line;
}

namespace {

// Every field of a resource, one a line, for `resource show`.
std::string ResourceCard(const v1::Resource& r) {
  std::string card = ResourceLine(r);
  const std::pair<const char*, std::string> lines[] = {
      {"resource.show_needs", absl::StrJoin(r.needs(), ", ")},
      {"resource.show_address", r.address()},
      {"resource.show_eligibility", r.eligibility()},
      {"resource.show_referral", r.referral()},
      {"resource.show_website", r.website()},
      {"resource.show_email", r.email()},
      {"resource.show_description", r.description()},
  };
  for (const auto& [key, value] : lines) {
    if (!value.empty()) absl::StrAppend(&card, "\n  ", Tr(key, {{"value", value}}));
  }
  absl::StrAppend(&card, "\n  ",
                  Tr("resource.show_updated", {{"at", FormatTime(r.updated_at_ms())}}));
  return card;
}

}  // namespace

void ResourceCommands::AddFieldOptions(CLI::App* c) {
  c->add_option("--name", f_.name, Tr("help.resource.field.name"));
  c->add_option("--kind", f_.kind, Tr("help.resource.field.kind"));
  c->add_option("--need", f_.needs, Tr("help.resource.field.need"));
  c->add_option("--address", f_.address, Tr("help.resource.field.address"));
  c->add_option("--area", f_.areas, Tr("help.resource.field.area"));
  c->add_option("--phone", f_.phone, Tr("help.resource.field.phone"));
  c->add_option("--hours", f_.hours, Tr("help.resource.field.hours"));
  c->add_option("--language", f_.languages, Tr("help.resource.field.language"));
  c->add_option("--eligibility", f_.eligibility, Tr("help.resource.field.eligibility"));
  c->add_option("--referral", f_.referral, Tr("help.resource.field.referral"));
  c->add_option("--website", f_.website, Tr("help.resource.field.website"));
  c->add_option("--email", f_.email, Tr("help.resource.field.email"));
  c->add_option("--description", f_.description, Tr("help.resource.field.description"));
  c->add_option("--source-ref", f_.source_ref, Tr("help.resource.field.source_ref"));
}

ResourceCommands::ResourceCommands(CLI::App* app) {
  resource_ = app->add_subcommand("resource", Tr("help.resource"));
  resource_->require_subcommand(1);
  resource_->footer(
      HelpExamples("  carerelay resource search --need \"home care\" --area 1050 --language fr"));

  search_ = resource_->add_subcommand("search", Tr("help.resource.search"));
  search_->add_option("--need", need_, Tr("help.resource.search.need"));
  search_->add_option("--area", area_, Tr("help.resource.search.area"));
  search_->add_option("--language", language_, Tr("help.resource.search.language"));
  search_->add_option("--kind", kind_, Tr("help.resource.search.kind"));
  search_->add_option("--limit", limit_, Tr("help.resource.search.limit"));
  search_->footer(
      HelpExamples("  carerelay resource search --need \"home care\" --area 1050 --language fr\n"
                   "  carerelay resource search --need \"support group\" --kind activity"));

  show_ = resource_->add_subcommand("show", Tr("help.resource.show"));
  show_->add_option("id", id_, Tr("help.resource.show.id"))->required();
  show_->footer(HelpExamples("  carerelay resource show 7c1e0a2b3c4d5e6f708192a3b4c5d6e7"));

  add_ = resource_->add_subcommand("add", Tr("help.resource.add"));
  AddFieldOptions(add_);
  add_->footer(HelpExamples(
      "  carerelay resource add --name \"CPAS d'Ixelles - service social\" --kind service \\\n"
      "      --need \"social aid\" --area 1050 --phone \"02 515 60 00\" --hours \"Mon-Fri 9-12\" "
      "--language fr --language nl"));

  edit_ = resource_->add_subcommand("edit", Tr("help.resource.edit"));
  edit_->add_option("id", id_, Tr("help.resource.edit.id"))->required();
  AddFieldOptions(edit_);
  edit_->footer(HelpExamples(
      "  carerelay resource edit 7c1e0a2b3c4d5e6f708192a3b4c5d6e7 --hours \"Mon-Thu 9-12\""));

  remove_ = resource_->add_subcommand("remove", Tr("help.resource.remove"));
  remove_->add_option("id", id_, Tr("help.resource.remove.id"))->required();
  remove_->footer(HelpExamples("  carerelay resource remove 7c1e0a2b3c4d5e6f708192a3b4c5d6e7"));

  import_ = resource_->add_subcommand("import", Tr("help.resource.import"));
  import_->add_option("file", file_, Tr("help.resource.import.file"))->required();
  import_->footer(HelpExamples("  carerelay resource import social-map-brussels.csv"));

  export_ = resource_->add_subcommand("export", Tr("help.resource.export"));
  export_->add_option("--output", output_, Tr("help.resource.export.output"));
  export_->footer(HelpExamples("  carerelay resource export --output resources.csv"));
}

bool ResourceCommands::parsed() const { return resource_->parsed(); }

bool ResourceCommands::AnyField() const {
  for (const auto* o : {&f_.name, &f_.kind, &f_.address, &f_.phone, &f_.hours, &f_.eligibility,
                        &f_.referral, &f_.website, &f_.email, &f_.description, &f_.source_ref}) {
    if (o->has_value()) return true;
  }
  return !f_.needs.empty() || !f_.areas.empty() || !f_.languages.empty();
}

absl::Status ResourceCommands::Apply(v1::Resource* r) const {
  if (f_.kind) {
    r->set_kind(ResourceKindFromToken(*f_.kind));
    if (r->kind() == v1::RESOURCE_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(Tr("resource.usage_kind"));
    }
  }
  const std::pair<const std::optional<std::string>*, std::string*> text[] = {
      {&f_.name, r->mutable_name()},
      {&f_.address, r->mutable_address()},
      {&f_.phone, r->mutable_phone()},
      {&f_.hours, r->mutable_hours()},
      {&f_.eligibility, r->mutable_eligibility()},
      {&f_.referral, r->mutable_referral()},
      {&f_.website, r->mutable_website()},
      {&f_.email, r->mutable_email()},
      {&f_.description, r->mutable_description()},
      {&f_.source_ref, r->mutable_source_ref()},
  };
  for (const auto& [given, field] : text) {
    if (given->has_value()) *field = **given;
  }
  // A list given replaces the list.
  const std::pair<const std::vector<std::string>*, google::protobuf::RepeatedPtrField<std::string>*>
      lists[] = {{&f_.needs, r->mutable_needs()},
                 {&f_.areas, r->mutable_areas()},
                 {&f_.languages, r->mutable_languages()}};
  for (const auto& [given, field] : lists) {
    if (given->empty()) continue;
    field->Clear();
    for (const std::string& v : *given) *field->Add() = v;
  }
  return absl::OkStatus();
}

int ResourceCommands::Search(Profile& p, const Globals& g) {
  v1::SearchResourcesRequest request;
  request.set_need(need_);
  request.set_area(area_);
  request.set_language(language_);
  request.set_limit(limit_);
  if (!kind_.empty()) {
    request.set_kind(ResourceKindFromToken(kind_));
    if (request.kind() == v1::RESOURCE_KIND_UNSPECIFIED) {
      return UsageError(Tr("resource.usage_kind"), g);
    }
  }
  if (need_.empty() && area_.empty() && language_.empty() && kind_.empty()) {
    return UsageError(Tr("resource.usage_search"), g);
  }
  auto found = p.relay().SearchResources(request);
  if (!found.ok()) return Fail(found.status(), g);
  for (const v1::Resource& r : found->resources()) {
    std::cout << (g.json ? DumpJson(ResourceJson(r)) : ResourceLine(r)) << "\n";
  }
  if (found->resources().empty() && !g.json) std::cout << Tr("resource.none_found") << "\n";
  if (!found->next_page_token().empty() && !g.json) {
    std::cout << Tr("resource.more", {{"count", std::to_string(found->resources_size())}}) << "\n";
  }
  return kExitOk;
}

int ResourceCommands::Import(Profile& p, const Globals& g) {
  std::ifstream in(file_, std::ios::binary);
  if (!in) return UsageError(Tr("resource.cannot_read", {{"file", file_}}), g);
  std::stringstream text;
  text << in.rdbuf();
  auto rows = client::ParseResourceCsv(text.str());
  if (!rows.ok()) {
    return UsageError(absl::StrCat(file_, ": ", rows.status().message()), g);
  }
  // In calls of kImportBatch rows, each all or nothing; matched on the
  // server by id, source_ref or name and address, so an import stopped
  // half-way is finished by running it again.
  uint32_t created = 0, updated = 0;
  for (size_t start = 0; start < rows->size(); start += kImportBatch) {
    v1::ImportResourcesRequest request;
    for (size_t i = start; i < std::min(rows->size(), start + kImportBatch); ++i) {
      *request.add_resources() = (*rows)[i];
    }
    auto done = p.relay().ImportResources(request);
    if (!done.ok()) {
      // The server names the row within this call; the file's line is
      // the row plus the header and the rows of earlier calls.
      return Fail(absl::Status(done.status().code(),
                               absl::StrCat(Tr("resource.import_failed",
                                               {{"file", file_},
                                                {"first", std::to_string(start + 2)},
                                                {"done", std::to_string(created + updated)}}),
                                            ": ", done.status().message())),
                  g);
    }
    created += done->created();
    updated += done->updated();
  }
  Print(g, {{"file", file_}, {"created", created}, {"updated", updated}},
        Tr("resource.imported", {{"count", std::to_string(created + updated)},
                                 {"file", file_},
                                 {"created", std::to_string(created)},
                                 {"updated", std::to_string(updated)}}));
  return kExitOk;
}

int ResourceCommands::Export(Profile& p, const Globals& g) {
  std::vector<v1::Resource> all;
  v1::SearchResourcesRequest request;
  request.set_limit(500);
  do {
    auto page = p.relay().SearchResources(request);
    if (!page.ok()) return Fail(page.status(), g);
    all.insert(all.end(), page->resources().begin(), page->resources().end());
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  const std::string csv = client::WriteResourceCsv(all);
  if (output_.empty()) {
    std::cout << csv;
    return kExitOk;
  }
  std::ofstream out(output_, std::ios::binary | std::ios::trunc);
  out << csv;
  out.close();
  if (!out) return Fail(absl::InternalError(Tr("resource.cannot_write", {{"file", output_}})), g);
  Print(g, {{"file", output_}, {"count", all.size()}},
        Tr("resource.exported", {{"count", std::to_string(all.size())}, {"file", output_}}));
  return kExitOk;
}

int ResourceCommands::Run(Profile& p, const Globals& g) {
  if (search_->parsed()) return Search(p, g);
  if (import_->parsed()) return Import(p, g);
  if (export_->parsed()) return Export(p, g);
  if (show_->parsed()) {
    auto r = p.relay().GetResource(id_);
    if (!r.ok()) return Fail(r.status(), g);
    Print(g, ResourceJson(*r), ResourceCard(*r));
    return kExitOk;
  }
  if (add_->parsed() || edit_->parsed()) {
    v1::Resource r;
    if (edit_->parsed()) {
      if (!AnyField()) return UsageError(Tr("resource.usage_edit_nothing"), g);
      auto held = p.relay().GetResource(id_);
      if (!held.ok()) return Fail(held.status(), g);
      r = *std::move(held);
    } else if (!f_.name || !f_.kind) {
      return UsageError(Tr("resource.usage_add"), g);
    }
    absl::Status s = Apply(&r);
    if (!s.ok()) return UsageError(std::string(s.message()), g);
    auto saved = p.relay().PutResource(r);
    if (!saved.ok()) return Fail(saved.status(), g);
    Print(g, ResourceJson(*saved), Tr("resource.saved", {{"entry", ResourceLine(*saved)}}));
    return kExitOk;
  }
  if (remove_->parsed()) {
    absl::Status s = p.relay().RemoveResource(id_);
    if (!s.ok()) return Fail(s, g);
    Print(g, {{"resource_id", id_}, {"removed", true}}, Tr("resource.removed", {{"id", id_}}));
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace carerelay::cli
