// The helpdesk's blind indexes: normalisation of national numbers, and of
// names and birth dates (client/name_folding.h), the keyed hashes (checked
// against HMACs computed independently with the openssl command line), and
// the organisation key file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "client/blind_index.h"
#include "client/name_folding.h"

namespace carerelay::client {
namespace {

namespace fs = std::filesystem;

// 00 01 02 ... 1f
std::string TestKey() {
  return absl::HexStringToBytes("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

std::string Normalised(const std::string& written) {
  absl::StatusOr<std::string> n = NormaliseNationalNumber(written);
  EXPECT_TRUE(n.ok()) << written << ": " << n.status();
  return n.ok() ? *n : "";
}

void ExpectRejected(const std::string& written, const std::string& says) {
  absl::StatusOr<std::string> n = NormaliseNationalNumber(written);
  ASSERT_FALSE(n.ok()) << written << " was accepted as " << *n;
  EXPECT_TRUE(absl::IsInvalidArgument(n.status())) << n.status();
  EXPECT_TRUE(absl::StrContains(n.status().message(), says))
      << written << ": " << n.status().message() << " (expected to say: " << says << ")";
}

TEST(NormaliseNationalNumberTest, BelgianWrittenFormsAreOneValue) {
  EXPECT_EQ(Normalised("85.07.30-033.28"), "85073003328");
  EXPECT_EQ(Normalised("85073003328"), "85073003328");
  EXPECT_EQ(Normalised(" 850730 033 28 "), "85073003328");
  EXPECT_EQ(Normalised("85/07/30-033/28"), "85073003328");
  EXPECT_EQ(Normalised("85 07 30 033 28"), "85073003328");
}

TEST(NormaliseNationalNumberTest, BelgianBornIn2000OrLater) {
  // Check digits over 2 followed by the nine digits.
  EXPECT_EQ(Normalised("05.07.30-123.33"), "05073012333");
}

TEST(NormaliseNationalNumberTest, FrenchWrittenFormsAreOneValue) {
  // The key is checked and dropped, so with or without it is the same.
  EXPECT_EQ(Normalised("1 85 07 75 123 456 08"), "1850775123456");
  EXPECT_EQ(Normalised("1850775123456"), "1850775123456");
  EXPECT_EQ(Normalised("1-85-07-75-123-456"), "1850775123456");
  EXPECT_EQ(Normalised("185077512345608"), "1850775123456");
}

TEST(NormaliseNationalNumberTest, FrenchCorsicanDepartments) {
  EXPECT_EQ(Normalised("1 85 07 2A 123 456 65"), "185072A123456");
  EXPECT_EQ(Normalised("1 85 07 2a 123 456"), "185072A123456");  // upper-cased
  EXPECT_EQ(Normalised("2 85 07 2B 123 456 42"), "285072B123456");
}

TEST(NormaliseNationalNumberTest, RejectsWhatIsNeither) {
  ExpectRejected("", "neither a Belgian");
  ExpectRejected("1234", "has 4 digits");
  ExpectRejected("85.07.30-033.2", "neither a Belgian");
  ExpectRejected("85.07.30-033.2X", "11 digits");
  ExpectRejected("85_07_30_033_28", "other characters");
  ExpectRejected("85.07.30-033.28!", "other characters");
  ExpectRejected("1 85 07 2C 123 456", "French NIR");
  ExpectRejected("1 85 07 75 12A 456", "French NIR");
  ExpectRejected("0 85 07 75 123 456", "first digit");
}

TEST(NormaliseNationalNumberTest, RejectsMistypedCheckDigits) {
  ExpectRejected("85.07.30-033.29", "check digits");
  ExpectRejected("85.07.30-034.28", "check digits");
  ExpectRejected("1 85 07 75 123 456 09", "key");
  ExpectRejected("1 85 07 2A 123 456 66", "key");
}

TEST(BlindIndexTest, KnownAnswer) {
  // printf 'carerelay-blind-index-v1\x0085073003328' |
  //   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1e1f
  absl::StatusOr<std::string> index = BlindIndex(TestKey(), "85073003328");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(absl::BytesToHexString(*index),
            "9c704285312ccd015777df70362897684c7d5a92650927adda1e16a571c3ba41");
  index = BlindIndex(TestKey(), "185072A123456");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(absl::BytesToHexString(*index),
            "2a602f5554d87d52c034397845669915c18d120b850a3f2d44071e88eb759a04");
}

TEST(BlindIndexTest, EveryWrittenFormFindsTheSameIndex) {
  auto a = BlindIndex(TestKey(), Normalised("85.07.30-033.28"));
  auto b = BlindIndex(TestKey(), Normalised("85073003328"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 32u);
}

TEST(BlindIndexTest, DeterministicAndKeyed) {
  const std::string other_key(32, '\x42');
  auto first = BlindIndex(TestKey(), "85073003328");
  auto again = BlindIndex(TestKey(), "85073003328");
  auto other = BlindIndex(other_key, "85073003328");
  auto another_number = BlindIndex(TestKey(), "05073012333");
  ASSERT_TRUE(first.ok() && again.ok() && other.ok() && another_number.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_NE(*first, *other) << "a different organisation key must give a different index";
  EXPECT_NE(*first, *another_number);
}

TEST(BlindIndexTest, RefusesBadKeysAndUnnormalisedNumbers) {
  EXPECT_TRUE(absl::IsInvalidArgument(BlindIndex(std::string(31, 'k'), "85073003328").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(BlindIndex(std::string(33, 'k'), "85073003328").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(BlindIndex(TestKey(), "85.07.30-033.28").status()))
      << "a written form would give an index that finds nothing";
  EXPECT_TRUE(absl::IsInvalidArgument(BlindIndex(TestKey(), "").status()));
}

std::string Folded(const std::string& written) {
  absl::StatusOr<std::string> n = FoldName(written);
  EXPECT_TRUE(n.ok()) << written << ": " << n.status();
  return n.ok() ? *n : "";
}

TEST(FoldNameTest, TheWaysOfWritingOneNameFoldAlike) {
  EXPECT_EQ(Folded("Marie-Thérèse Dubois"), "dubois marie therese");
  EXPECT_EQ(Folded("DUBOIS, Marie Therese"), "dubois marie therese");
  EXPECT_EQ(Folded("  marie   thérèse  dubois "), "dubois marie therese");
  // Decomposed accents (e + U+0301), as some keyboards send them.
  EXPECT_EQ(Folded("The\xcc\x81re\xcc\x80se Dubois Marie"), "dubois marie therese");
  EXPECT_EQ(Folded("D'Hondt Renée"), Folded("d\xe2\x80\x99hondt RENEE"));
  EXPECT_EQ(Folded("Jean D'Hondt"), "dhondt jean");
  EXPECT_EQ(Folded("Strauß Jürgen"), "jurgen strauss");
  EXPECT_EQ(Folded("Ĳsbrand Œdipe Æsa Łucja Çelik Øyvind"),
            "aesa celik ijsbrand lucja oedipe oyvind");
  // Not folded, by design: transliterations and joined particles.
  EXPECT_NE(Folded("Müller"), Folded("Mueller"));
  EXPECT_NE(Folded("Van den Bossche"), Folded("Vandenbossche"));
}

TEST(FoldNameTest, RefusesWhatIsNotALatinName) {
  for (const std::string& bad :
       {std::string("Amina 2"), std::string("A"), std::string(" - "), std::string("Jean@Dubois"),
        std::string("\xd8\xa3\xd9\x85\xd9\x8a\xd9\x86\xd8\xa9"),  // Arabic script
        std::string("Jos\xe9"),                                   // Latin-1 bytes
        std::string("\xc0\xae\xc0\xae"),                          // overlong
        std::string(kMaxNameSize + 1, 'a')}) {
    absl::StatusOr<std::string> n = FoldName(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(n.status())) << bad << " gave " << n.value_or("");
  }
}

TEST(NameBlindIndexTest, KnownAnswerAndEveryWrittenForm) {
  // printf 'carerelay-name-index-v1\x001952-11-04\x00amina el idrissi' |
  //   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1e1f
  auto normalised = NormaliseNameAndBirthDate("Amina El Idrissi", "1952-11-04");
  ASSERT_TRUE(normalised.ok()) << normalised.status();
  auto index = NameBlindIndex(TestKey(), *normalised);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(absl::BytesToHexString(*index),
            "3a83430e44631aa9c8a18899c53c47679da12a7b058231a461bde131506d1c56");
  for (const auto& [name, date] :
       std::vector<std::pair<std::string, std::string>>{{"EL IDRISSI, Amina", "04/11/1952"},
                                                        {"amina el-idrissi", "04.11.1952"},
                                                        {"El Idrissi Amina", "04-11-1952"}}) {
    auto other = NormaliseNameAndBirthDate(name, date);
    ASSERT_TRUE(other.ok()) << name << " " << date << ": " << other.status();
    EXPECT_EQ(*other, *normalised) << name << " " << date;
  }
  // Never the national number's index of the same text, nor another day's.
  auto next_day = NormaliseNameAndBirthDate("Amina El Idrissi", "1952-11-05");
  ASSERT_TRUE(next_day.ok());
  EXPECT_NE(*NameBlindIndex(TestKey(), *next_day), *index);
}

TEST(NameBlindIndexTest, RefusesBadDatesKeysAndUnnormalisedInput) {
  for (const char* bad : {"1952-11-31", "31/02/1952", "1952/11/04", "04/11/52", "1879-12-31",
                          "2999-01-01", "", "04.11-1952", "yesterday"}) {
    EXPECT_TRUE(
        absl::IsInvalidArgument(NormaliseNameAndBirthDate("Amina El Idrissi", bad).status()))
        << bad;
  }
  auto normalised = NormaliseNameAndBirthDate("Amina El Idrissi", "1952-11-04");
  ASSERT_TRUE(normalised.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(NameBlindIndex(std::string(31, 'k'), *normalised).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      NameBlindIndex(TestKey(), std::string("1952-11-04") + '\0' + "Amina El Idrissi").status()))
      << "a written form would give an index that finds nothing";
  EXPECT_TRUE(absl::IsInvalidArgument(NameBlindIndex(TestKey(), "amina el idrissi").status()));
}

constexpr char kCurrentHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kPreviousHex[] = "ffeeddccbbaa99887766554433221100FFEEDDCCBBAA99887766554433221100";

TEST(OrganisationKeysTest, ParsesCurrentThenPreviousKeys) {
  const std::string text = std::string("# carerelay organisation keys, current first\n\n") +
                           "2026-1 " + kCurrentHex + "\n" + "  2025-2\t" + kPreviousHex + "  \n";
  auto ring = ParseOrganisationKeys(text, "keys");
  ASSERT_TRUE(ring.ok()) << ring.status();
  ASSERT_EQ(ring->keys.size(), 2u);
  EXPECT_EQ(ring->current().version, "2026-1");
  EXPECT_EQ(ring->current().key, TestKey());
  EXPECT_EQ(ring->keys[1].version, "2025-2");
  EXPECT_EQ(absl::BytesToHexString(ring->keys[1].key), absl::AsciiStrToLower(kPreviousHex));
}

void ExpectBadKeyFile(const std::string& text, const std::string& says) {
  auto ring = ParseOrganisationKeys(text, "org.key");
  ASSERT_FALSE(ring.ok()) << text;
  EXPECT_TRUE(absl::IsInvalidArgument(ring.status())) << ring.status();
  EXPECT_TRUE(absl::StrContains(ring.status().message(), says)) << ring.status().message();
  EXPECT_TRUE(absl::StrContains(ring.status().message(), "org.key")) << ring.status().message();
  // An error never repeats key material.
  EXPECT_FALSE(absl::StrContains(ring.status().message(), "0405060708")) << ring.status();
}

TEST(OrganisationKeysTest, RefusesMalformedFiles) {
  ExpectBadKeyFile("", "has no key");
  ExpectBadKeyFile("# only a comment\n", "has no key");
  ExpectBadKeyFile(std::string("v1 ") + kCurrentHex + " extra\n", "line 1: expected two fields");
  ExpectBadKeyFile(std::string(kCurrentHex) + "\n", "line 1: expected two fields");
  ExpectBadKeyFile("v1 0001020304\n", "not 64 hex characters");
  ExpectBadKeyFile(std::string("v1 ") + std::string(63, '0') + "g\n", "not 64 hex characters");
  ExpectBadKeyFile(std::string("v1 ") + kCurrentHex + "\nv1 " + kPreviousHex + "\n",
                   "line 2: key version v1 is listed twice");
  ExpectBadKeyFile(std::string(33, 'v') + " " + kCurrentHex + "\n", "longer than 32");
  ExpectBadKeyFile(std::string("v/1 ") + kCurrentHex + "\n", "may only have");
}

class OrganisationKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/carerelay-orgkey-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/organisation.key";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const std::string& text, mode_t mode) {
    {
      std::ofstream out(path_, std::ios::trunc);
      out << text;
    }
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
  }
  std::string dir_, path_;
};

TEST_F(OrganisationKeyFileTest, LoadsAPrivateFile) {
  Write(std::string("2026-1 ") + kCurrentHex + "\n", 0600);
  auto ring = LoadOrganisationKeys(path_);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(ring->current().version, "2026-1");
  EXPECT_EQ(ring->current().key, TestKey());
  Write(std::string("2026-1 ") + kCurrentHex + "\n", 0400);
  EXPECT_TRUE(LoadOrganisationKeys(path_).ok());
}

TEST_F(OrganisationKeyFileTest, RefusesAFileOthersCanRead) {
  for (mode_t mode : {0640, 0604, 0644, 0660, 0610}) {
    Write(std::string("2026-1 ") + kCurrentHex + "\n", mode);
    auto ring = LoadOrganisationKeys(path_);
    ASSERT_FALSE(ring.ok()) << std::oct << mode;
    EXPECT_TRUE(absl::IsFailedPrecondition(ring.status())) << ring.status();
    EXPECT_TRUE(absl::StrContains(ring.status().message(), "chmod 600 " + path_))
        << ring.status().message();
  }
}

TEST_F(OrganisationKeyFileTest, MissingFileSaysWhatToDo) {
  auto ring = LoadOrganisationKeys(path_);
  ASSERT_TRUE(absl::IsNotFound(ring.status())) << ring.status();
  EXPECT_TRUE(absl::StrContains(ring.status().message(), "--org-key")) << ring.status();
}

TEST_F(OrganisationKeyFileTest, RefusesDirectoriesSymlinksAndBadContent) {
  EXPECT_TRUE(absl::IsInvalidArgument(LoadOrganisationKeys(dir_).status()));
  Write(std::string("2026-1 ") + kCurrentHex + "\n", 0600);
  const std::string link = dir_ + "/link.key";
  ASSERT_EQ(::symlink(path_.c_str(), link.c_str()), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(LoadOrganisationKeys(link).status()));
  Write("2026-1 not-a-key\n", 0600);
  auto ring = LoadOrganisationKeys(path_);
  EXPECT_TRUE(absl::IsInvalidArgument(ring.status())) << ring.status();
  EXPECT_TRUE(absl::StrContains(ring.status().message(), path_ + " line 1"))
      << ring.status().message();
}

}  // namespace
}  // namespace carerelay::client
