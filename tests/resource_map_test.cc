// The map of resources (issue 18, item 3) through a real server over TLS on
// a real RocksDB: the helpdesk maintains it and loads a region's social
// map; anyone finds a resource by need, area and language, accents and case
// aside; an import is all or nothing and, run again, updates rather than
// doubles; a listing pages in name order.
#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

v1::Resource Service(const std::string& name, const std::vector<std::string>& needs,
                     const std::vector<std::string>& areas,
                     const std::vector<std::string>& languages) {
  v1::Resource r;
  r.set_name(name);
  r.set_kind(v1::RESOURCE_KIND_SERVICE);
  for (const auto& n : needs) r.add_needs(n);
  for (const auto& a : areas) r.add_areas(a);
  for (const auto& l : languages) r.add_languages(l);
  return r;
}

std::vector<std::string> Names(const absl::StatusOr<v1::SearchResourcesResponse>& found) {
  std::vector<std::string> names;
  EXPECT_TRUE(found.ok()) << found.status();
  if (found.ok()) {
    for (const auto& r : found->resources()) names.push_back(r.name());
  }
  return names;
}

class ResourceMapTest : public ::testing::Test {
 protected:
  ResourceMapTest() {
    helpdesk_ = TestDevice::Enroll(server_, "Helpdesk Brussels", v1::ACCOUNT_KIND_HELPDESK);
    nurse_ = TestDevice::Enroll(server_, "Anne Peeters");
  }

  absl::StatusOr<v1::SearchResourcesResponse> Search(const std::string& need,
                                                     const std::string& area = "",
                                                     const std::string& language = "") {
    v1::SearchResourcesRequest r;
    r.set_need(need);
    r.set_area(area);
    r.set_language(language);
    return nurse_->client().SearchResources(r);
  }

  TestServer server_;
  std::unique_ptr<TestDevice> helpdesk_, nurse_;
};

TEST_F(ResourceMapTest, FoundByNeedAreaAndLanguage) {
  v1::Resource home_care =
      Service("Aide & Soins à Domicile Bruxelles", {"aide familiale", "soins à domicile"},
              {"1050", "1000"}, {"fr", "nl"});
  home_care.set_phone("02 647 00 00");
  home_care.set_hours("Mon-Fri 8-17");
  home_care.set_eligibility("anyone living at home in Brussels");
  home_care.set_referral("by phone, the GP or the family");
  auto stored = helpdesk_->client().PutResource(home_care);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->resource_id().size(), 32u);
  EXPECT_EQ(stored->updated_by_account_id(), helpdesk_->account_id());
  ASSERT_TRUE(helpdesk_->client()
                  .PutResource(Service("Thuiszorg Brussel", {"thuiszorg", "gezinszorg"},
                                       {"1000", "Brussel"}, {"nl"}))
                  .ok());
  v1::Resource group =
      Service("Groupe de parole des aidants proches", {"soutien aux aidants"}, {"Ixelles"}, {"fr"});
  group.set_kind(v1::RESOURCE_KIND_ACTIVITY);
  ASSERT_TRUE(helpdesk_->client().PutResource(group).ok());

  // Accents and case aside; the postcode's start; a place name.
  EXPECT_EQ(Names(Search("SOINS A DOMICILE")),
            std::vector<std::string>{"Aide & Soins à Domicile Bruxelles"});
  EXPECT_EQ(Names(Search("", "10", "nl")),
            (std::vector<std::string>{"Aide & Soins à Domicile Bruxelles", "Thuiszorg Brussel"}));
  EXPECT_EQ(Names(Search("aidants", "ixelles")),
            std::vector<std::string>{"Groupe de parole des aidants proches"});
  EXPECT_TRUE(Names(Search("aide familiale", "1050", "de")).empty());
  EXPECT_TRUE(Names(Search("thuiszorg", "1050")).empty());
  v1::SearchResourcesRequest activities;
  activities.set_kind(v1::RESOURCE_KIND_ACTIVITY);
  EXPECT_EQ(Names(nurse_->client().SearchResources(activities)),
            std::vector<std::string>{"Groupe de parole des aidants proches"});
  auto read = nurse_->client().GetResource(stored->resource_id());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->referral(), "by phone, the GP or the family");

  // Only the helpdesk changes the map; a bad entry is refused whole.
  EXPECT_EQ(nurse_->client().PutResource(group).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(nurse_->client().RemoveResource(stored->resource_id()).code(),
            absl::StatusCode::kPermissionDenied);
  v1::Resource bad = home_care;
  bad.clear_kind();
  EXPECT_EQ(helpdesk_->client().PutResource(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = home_care;
  bad.add_languages("français");
  EXPECT_EQ(helpdesk_->client().PutResource(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = home_care;
  bad.set_resource_id("00112233445566778899aabbccddeeff");
  EXPECT_EQ(helpdesk_->client().PutResource(bad).status().code(), absl::StatusCode::kNotFound);

  // Edited, then removed.
  v1::Resource edited = *stored;
  edited.set_hours("Mon-Thu 8-17");
  ASSERT_TRUE(helpdesk_->client().PutResource(edited).ok());
  EXPECT_EQ(nurse_->client().GetResource(stored->resource_id())->hours(), "Mon-Thu 8-17");
  ASSERT_TRUE(helpdesk_->client().RemoveResource(stored->resource_id()).ok());
  EXPECT_EQ(nurse_->client().GetResource(stored->resource_id()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ResourceMapTest, AnImportIsAllOrNothingAndRunAgainUpdates) {
  v1::ImportResourcesRequest map;
  for (int i = 0; i < 7; ++i) {
    v1::Resource r = Service("Service " + std::to_string(i), {"repas"}, {"1050"}, {"fr"});
    r.set_address(absl::StrCat("Rue ", i));
    if (i % 2 == 0) r.set_source_ref(absl::StrCat("BS-", i));
    *map.add_resources() = r;
  }
  // A bad row: nothing of the import is stored, the error names the row.
  v1::ImportResourcesRequest broken = map;
  broken.mutable_resources(4)->set_phone(std::string(101, '1'));
  auto refused = helpdesk_->client().ImportResources(broken);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("row 5"), std::string::npos) << refused.status();
  EXPECT_TRUE(Names(Search("repas")).empty());
  EXPECT_EQ(nurse_->client().ImportResources(map).status().code(),
            absl::StatusCode::kPermissionDenied);

  auto imported = helpdesk_->client().ImportResources(map);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->created(), 7u);
  EXPECT_EQ(imported->updated(), 0u);
  // The same map again, renamed where it has a source reference, written
  // differently where it has not: updated, never doubled.
  v1::ImportResourcesRequest again = map;
  again.mutable_resources(0)->set_name("Service 0 (renamed)");
  again.mutable_resources(1)->set_name("SERVICE 1");
  again.mutable_resources(1)->set_phone("02 000 00 01");
  auto reimported = helpdesk_->client().ImportResources(again);
  ASSERT_TRUE(reimported.ok()) << reimported.status();
  EXPECT_EQ(reimported->created(), 0u);
  EXPECT_EQ(reimported->updated(), 7u);
  EXPECT_EQ(reimported->resources(0).resource_id(), imported->resources(0).resource_id());
  EXPECT_EQ(reimported->resources(1).resource_id(), imported->resources(1).resource_id());
  auto all = Search("repas");
  ASSERT_EQ(Names(all).size(), 7u);
  EXPECT_EQ(Names(all).front(), "Service 0 (renamed)");

  // A listing in pages of 3, in name order, ends.
  v1::SearchResourcesRequest page;
  page.set_limit(3);
  std::vector<std::string> listed;
  for (int pages = 0; pages < 5; ++pages) {
    auto got = nurse_->client().SearchResources(page);
    ASSERT_TRUE(got.ok()) << got.status();
    for (const auto& r : got->resources()) listed.push_back(r.name());
    if (got->next_page_token().empty()) break;
    page.set_page_token(got->next_page_token());
  }
  EXPECT_EQ(listed, (std::vector<std::string>{"Service 0 (renamed)", "SERVICE 1", "Service 2",
                                              "Service 3", "Service 4", "Service 5", "Service 6"}));
  page.set_page_token("not hex");
  EXPECT_EQ(nurse_->client().SearchResources(page).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::ImportResourcesRequest too_many;
  for (int i = 0; i < 501; ++i) *too_many.add_resources() = map.resources(0);
  EXPECT_EQ(helpdesk_->client().ImportResources(too_many).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace carerelay::testing
