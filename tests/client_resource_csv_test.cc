// The map of resources as CSV (client/resource_csv.h): a social map as a
// spreadsheet in Belgium writes it (semicolons, a byte-order mark, quoted
// fields with newlines), columns in any order, clear errors naming the
// line, and an export that reads back the same.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "client/resource_csv.h"

namespace carerelay::client {
namespace {

TEST(ResourceCsvTest, ASpreadsheetsSemicolonsQuotesAndLists) {
  const std::string csv =
      "\xEF\xBB\xBFName;Kind;Needs;Areas;Languages;Phone;Description\r\n"
      "\"CPAS d'Ixelles; service social\";service;aide sociale,revenu d'intégration;1050;fr,nl;"
      "02 515 60 00;\"Permanences:\nlundi et jeudi \"\"sans rendez-vous\"\"\"\r\n"
      "\r\n"
      "Groupe de parole;ACTIVITY;;Ixelles;fr;;\r\n";
  auto rows = ParseResourceCsv(csv);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  const v1::Resource& cpas = (*rows)[0];
  EXPECT_EQ(cpas.name(), "CPAS d'Ixelles; service social");
  EXPECT_EQ(cpas.kind(), v1::RESOURCE_KIND_SERVICE);
  ASSERT_EQ(cpas.needs_size(), 2);
  EXPECT_EQ(cpas.needs(1), "revenu d'intégration");
  EXPECT_EQ(cpas.languages_size(), 2);
  EXPECT_EQ(cpas.description(), "Permanences:\nlundi et jeudi \"sans rendez-vous\"");
  EXPECT_EQ((*rows)[1].kind(), v1::RESOURCE_KIND_ACTIVITY);
  EXPECT_EQ((*rows)[1].areas(0), "Ixelles");
  EXPECT_EQ((*rows)[1].needs_size(), 0);
}

TEST(ResourceCsvTest, TheExportReadsBackTheSame) {
  v1::Resource a;
  a.set_resource_id("7c1e0a2b3c4d5e6f708192a3b4c5d6e7");
  a.set_name("Aide & Soins à Domicile, Bruxelles");
  a.set_kind(v1::RESOURCE_KIND_SERVICE);
  a.add_needs("soins à domicile");
  a.add_needs("aide familiale");
  a.add_areas("1050");
  a.add_languages("fr");
  a.set_hours("Mon-Fri 8-17");
  a.set_description("Nurses \"at home\"\nseven days a week");
  a.set_source_ref("BS-1042");
  v1::Resource b;
  b.set_name("Thuiszorg Brussel");
  b.set_kind(v1::RESOURCE_KIND_STRUCTURE);
  const std::string csv = WriteResourceCsv({a, b});
  EXPECT_TRUE(absl::StartsWith(csv, "id,name,kind,needs,")) << csv;
  auto rows = ParseResourceCsv(csv);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].SerializeAsString(), a.SerializeAsString());
  EXPECT_EQ((*rows)[1].SerializeAsString(), b.SerializeAsString());
}

TEST(ResourceCsvTest, ErrorsNameTheLine) {
  struct Bad {
    std::string csv, says;
  };
  for (const Bad& bad :
       std::vector<Bad>{{"", "empty"},
                        {"name,colour\nA,red\n", "line 1: unknown column \"colour\""},
                        {"name,kind,name\n", "named twice"},
                        {"name,phone\nA,1\n", "name and kind are required"},
                        {"name,kind\nA,service\nB,shop\n", "line 3: kind \"shop\""},
                        {"name,kind\nA,service,extra\n", "line 2: 3 fields for 2 columns"},
                        {"name,kind\n\"A,service\n", "never closed"}}) {
    auto rows = ParseResourceCsv(bad.csv);
    ASSERT_FALSE(rows.ok()) << bad.csv;
    EXPECT_TRUE(absl::IsInvalidArgument(rows.status()));
    EXPECT_TRUE(absl::StrContains(rows.status().message(), bad.says))
        << rows.status().message() << " (expected: " << bad.says << ")";
  }
}

}  // namespace
}  // namespace carerelay::client
