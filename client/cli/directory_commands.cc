#include "client/cli/directory_commands.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"

namespace carerelay::cli {

absl::StatusOr<int64_t> ParseLocalTime(const std::string& text) {
  for (const char* format : {"%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, text, absl::LocalTimeZone(), &t, &err)) {
      return absl::ToUnixMillis(t);
    }
  }
  return absl::InvalidArgumentError(Tr("directory.bad_time", {{"text", text}}));
}

nlohmann::json DirectoryEntryJson(const v1::DirectoryEntry& e) {
  nlohmann::json j = {{"account_id", e.account_id()},
                      {"name", e.name()},
                      {"profession", e.profession()},
                      {"organisation", e.organisation()},
                      {"practice_id", e.practice_id()},
                      {"languages", e.languages()},
                      {"region", e.region()},
                      {"postcode", e.postcode()},
                      {"case_manager_pool", e.case_manager_pool()},
                      {"absent_now", e.absent_now()}};
  if (!e.absence().substitute_account_id().empty()) {
    j["absence"] = {{"from", FormatTime(e.absence().from_ms())},
                    {"to", FormatTime(e.absence().to_ms())},
                    {"substitute", e.absence().substitute_account_id()},
                    {"substitute_name", e.absence().substitute_name()}};
  }
  return j;
}

std::string DirectoryEntryLine(const v1::DirectoryEntry& e) {
  std::string line = absl::StrCat(e.account_id(), "  ", e.name());
  for (const std::string* f : {&e.profession(), &e.organisation()}) {
    if (!f->empty()) absl::StrAppend(&line, ", ", *f);
  }
  // "(1050 Ixelles)", "(Ixelles)", "(1050)", or nothing: no stray space
  // around a part the entry leaves empty.
  std::vector<std::string> place;
  for (const std::string* f : {&e.postcode(), &e.region()}) {
    if (!f->empty()) place.push_back(*f);
  }
  if (!place.empty()) absl::StrAppend(&line, " (", absl::StrJoin(place, " "), ")");
  if (!e.practice_id().empty()) {
    absl::StrAppend(&line, "  ", Tr("directory.practice", {{"id", e.practice_id()}}));
  }
  if (e.languages_size() > 0) absl::StrAppend(&line, "  ", absl::StrJoin(e.languages(), "/"));
  if (e.case_manager_pool()) absl::StrAppend(&line, "  ", Tr("directory.pool"));
  if (!e.absence().substitute_account_id().empty()) {
    const std::string sub = e.absence().substitute_name().empty()
                                ? Short(e.absence().substitute_account_id())
                                : e.absence().substitute_name();
    absl::StrAppend(&line, "  ",
                    Tr(e.absent_now() ? "directory.absent_until" : "directory.absent_from_to",
                       {{"from", FormatTime(e.absence().from_ms())},
                        {"to", FormatTime(e.absence().to_ms())},
                        {"substitute", sub},
                        {"id", Short(e.absence().substitute_account_id())}}));
  }
  return line;
}

DirectoryCommands::DirectoryCommands(CLI::App* app) {
  directory_ = app->add_subcommand("directory", Tr("help.directory"));
  directory_->require_subcommand(1);
  directory_->footer(
      HelpExamples("  carerelay directory search --profession nurse --region Ixelles"));
  publish_ = directory_->add_subcommand("publish", Tr("help.directory.publish"));
  publish_->add_option("--name", o_.name, Tr("help.directory.publish.name"));
  publish_->add_option("--profession", o_.profession, Tr("help.directory.publish.profession"));
  publish_->add_option("--organisation", o_.organisation,
                       Tr("help.directory.publish.organisation"));
  publish_->add_option("--practice-id", o_.practice_id, Tr("help.directory.publish.practice_id"));
  publish_->add_option("--language", o_.languages, Tr("help.directory.publish.language"));
  publish_->add_option("--region", o_.region, Tr("help.directory.publish.region"));
  publish_->add_option("--postcode", o_.postcode, Tr("help.directory.publish.postcode"));
  publish_->add_flag("--pool", o_.pool, Tr("help.directory.publish.pool"));
  publish_->footer(
      HelpExamples("  carerelay directory publish --profession \"home nurse\" --organisation "
                   "\"Soins Ixelles\" \\\n"
                   "      --practice-id 5-12345-67-890 --language fr --language nl --region "
                   "Ixelles --postcode 1050"));
  search_ = directory_->add_subcommand("search", Tr("help.directory.search"));
  search_->add_option("--name", o_.name, Tr("help.directory.search.name"));
  search_->add_option("--profession", o_.profession, Tr("help.directory.search.profession"));
  search_->add_option("--organisation", o_.organisation, Tr("help.directory.search.organisation"));
  search_->add_option("--region", o_.region, Tr("help.directory.search.region"));
  search_->add_flag("--pool", o_.pool, Tr("help.directory.search.pool"));
  search_->footer(
      HelpExamples("  carerelay directory search --profession nurse --region Ixelles\n"
                   "  carerelay directory search --pool --region Bruxelles"));
  show_ = directory_->add_subcommand("show", Tr("help.directory.show"));
  show_->add_option("account", o_.account, Tr("help.directory.show.account"))->required();
  show_->footer(HelpExamples("  carerelay directory show 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3"));
  absence_ = directory_->add_subcommand("absence", Tr("help.directory.absence"));
  absence_->add_option("--from", o_.from, Tr("help.directory.absence.from"));
  absence_->add_option("--to", o_.to, Tr("help.directory.absence.to"));
  absence_->add_option("--substitute", o_.substitute, Tr("help.directory.absence.substitute"));
  absence_->add_flag("--clear", o_.clear, Tr("help.directory.absence.clear"));
  absence_->footer(HelpExamples(
      "  carerelay directory absence --from 2026-07-01 --to 2026-07-15 --substitute 9b1e...07\n"
      "  carerelay directory absence --clear"));
}

bool DirectoryCommands::parsed() const { return directory_->parsed(); }

int DirectoryCommands::Run(Profile& p, const Globals& g) {
  if (publish_->parsed()) {
    v1::DirectoryEntry e;
    e.set_name(o_.name);
    e.set_profession(o_.profession);
    e.set_organisation(o_.organisation);
    e.set_practice_id(o_.practice_id);
    for (const auto& l : o_.languages) e.add_languages(l);
    e.set_region(o_.region);
    e.set_postcode(o_.postcode);
    e.set_case_manager_pool(o_.pool);
    auto r = p.relay().PublishDirectoryEntry(e);
    if (!r.ok()) return Fail(r.status(), g);
    Print(g, DirectoryEntryJson(*r),
          Tr("directory.published", {{"entry", DirectoryEntryLine(*r)}}));
    return kExitOk;
  }
  if (search_->parsed()) {
    v1::SearchDirectoryRequest r;
    r.set_name(o_.name);
    r.set_profession(o_.profession);
    r.set_organisation(o_.organisation);
    r.set_region(o_.region);
    r.set_case_manager_pool_only(o_.pool);
    auto found = p.relay().SearchDirectory(r);
    if (!found.ok()) return Fail(found.status(), g);
    for (const auto& e : *found) {
      std::cout << (g.json ? DumpJson(DirectoryEntryJson(e)) : DirectoryEntryLine(e)) << "\n";
    }
    if (found->empty() && !g.json) std::cout << Tr("directory.nobody_found") << "\n";
    return kExitOk;
  }
  if (show_->parsed()) {
    auto e = p.relay().GetDirectoryEntry(o_.account);
    if (!e.ok()) return Fail(e.status(), g);
    Print(g, DirectoryEntryJson(*e), DirectoryEntryLine(*e));
    return kExitOk;
  }
  if (absence_->parsed()) {
    v1::Absence a;
    if (o_.clear) {
      if (!o_.from.empty() || !o_.to.empty() || !o_.substitute.empty()) {
        return UsageError(Tr("directory.clear_alone"), g);
      }
    } else {
      if (o_.from.empty() || o_.to.empty() || o_.substitute.empty()) {
        return UsageError(Tr("directory.absence_needs"), g);
      }
      auto from = ParseLocalTime(o_.from);
      if (!from.ok()) return UsageError(std::string(from.status().message()), g);
      auto to = ParseLocalTime(o_.to);
      if (!to.ok()) return UsageError(std::string(to.status().message()), g);
      a.set_from_ms(*from);
      a.set_to_ms(*to);
      a.set_substitute_account_id(o_.substitute);
    }
    auto r = p.relay().SetAbsence(a);
    if (!r.ok()) return Fail(r.status(), g);
    Print(g, DirectoryEntryJson(*r),
          o_.clear ? Tr("directory.absence_cleared")
                   : Tr("directory.absence_set", {{"entry", DirectoryEntryLine(*r)}}));
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace carerelay::cli
