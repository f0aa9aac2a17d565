// `carerelay resource ...`: the map of resources (directory.proto) — the
// services, structures and collective activities the helpdesk orients
// callers to. Anyone searches it; helpdesk accounts maintain it and load a
// region's social map from CSV (client/resource_csv.h).
//
//   resource search [--need WORDS] [--area A] [--language L] [--kind K] [--limit N]
//                                                   Directory.SearchResources
//   resource show ID                                Directory.GetResource
//   resource add --name N --kind K [fields]         Directory.PutResource
//   resource edit ID [fields]                       Directory.GetResource, PutResource
//   resource remove ID                              Directory.RemoveResource
//   resource import FILE.csv                        Directory.ImportResources
//   resource export [--output FILE.csv]             Directory.SearchResources (every page)
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_RESOURCE_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_RESOURCE_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "carerelay/v1/directory.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class ResourceCommands {
 public:
  explicit ResourceCommands(CLI::App* app);
  ResourceCommands(const ResourceCommands&) = delete;
  ResourceCommands& operator=(const ResourceCommands&) = delete;

  bool parsed() const;
  int Run(Profile& profile, const Globals& g);

 private:
  // The fields `add` and `edit` take; a field not given is left as it is.
  struct Fields {
    std::optional<std::string> name, kind, address, phone, hours, eligibility, referral, website,
        email, description, source_ref;
    std::vector<std::string> needs, areas, languages;
  };
  void AddFieldOptions(CLI::App* command);
  // Writes the given fields into `r`; INVALID_ARGUMENT for an unknown kind.
  absl::Status Apply(v1::Resource* r) const;
  bool AnyField() const;

  int Search(Profile& p, const Globals& g);
  int Import(Profile& p, const Globals& g);
  int Export(Profile& p, const Globals& g);

  Fields f_;
  std::string id_, need_, area_, language_, kind_, file_, output_;
  uint32_t limit_ = 0;
  CLI::App *resource_, *search_, *show_, *add_, *edit_, *remove_, *import_, *export_;
};

nlohmann::json ResourceJson(const v1::Resource& r);
// One line: id, name, kind, phone, hours, languages, areas.
std::string ResourceLine(const v1::Resource& r);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_RESOURCE_COMMANDS_H_
