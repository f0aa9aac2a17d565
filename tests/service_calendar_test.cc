// The helpdesk line's service hours (server/core/service_calendar.h): weekly
// hours in the line's time zone, public holidays computed for any year,
// exceptional closures, and open time counted across lunch breaks, nights,
// weekends, holidays and a daylight-saving change. The intake deadlines that
// use it are tested through a real server in intake_desk_test.cc.
#include "server/core/service_calendar.h"

#include <gtest/gtest.h>

namespace carerelay::core {
namespace {

absl::TimeZone Brussels() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Brussels", &zone));
  return zone;
}

absl::Time At(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), Brussels());
}

ServiceCalendar Line() {
  ServiceCalendar c;
  EXPECT_TRUE(c.AddHours("mon-thu 09:00-12:30,13:30-17:00").ok());
  EXPECT_TRUE(c.AddHours("fri 09:00-16:00").ok());
  EXPECT_TRUE(c.SetTimeZone("Europe/Brussels").ok());
  EXPECT_TRUE(c.AddHolidays("be-bru").ok());
  EXPECT_TRUE(c.Validate().ok());
  return c;
}

TEST(ServiceCalendarTest, WithoutHoursTheLineIsAlwaysOpen) {
  ServiceCalendar c;
  EXPECT_TRUE(c.always_open());
  EXPECT_TRUE(c.Validate().ok());
  const absl::Time t = At(2027, 1, 16, 23, 0);  // a Saturday night
  EXPECT_EQ(c.Add(t, absl::Hours(1)), t + absl::Hours(1));
  EXPECT_TRUE(c.IsOpen(t));
}

TEST(ServiceCalendarTest, CountsOnlyOpenTime) {
  ServiceCalendar c = Line();
  // Within a morning; across the lunch break; across the night.
  EXPECT_EQ(c.Add(At(2027, 1, 13, 9, 0), absl::Hours(1)), At(2027, 1, 13, 10, 0));
  EXPECT_EQ(c.Add(At(2027, 1, 13, 12, 0), absl::Hours(1)), At(2027, 1, 13, 14, 0));
  EXPECT_EQ(c.Add(At(2027, 1, 13, 16, 30), absl::Hours(1)), At(2027, 1, 14, 9, 30));
  // Friday evening (the line closed at 16:00) to Monday.
  EXPECT_EQ(c.Add(At(2027, 1, 15, 18, 0), absl::Hours(1)), At(2027, 1, 18, 10, 0));
  EXPECT_EQ(c.Add(At(2027, 1, 15, 15, 30), absl::Hours(1)), At(2027, 1, 18, 9, 30));
  // Zero: the next opening, or now while open.
  EXPECT_EQ(c.Add(At(2027, 1, 16, 11, 0), absl::ZeroDuration()), At(2027, 1, 18, 9, 0));
  EXPECT_EQ(c.Add(At(2027, 1, 13, 10, 0), absl::ZeroDuration()), At(2027, 1, 13, 10, 0));
  // Exactly the rest of a day's open time ends at the close.
  EXPECT_EQ(c.Add(At(2027, 1, 13, 16, 0), absl::Hours(1)), At(2027, 1, 13, 17, 0));
  // Longer than a day: 7 open hours a day Monday to Thursday.
  EXPECT_EQ(c.Add(At(2027, 1, 11, 9, 0), absl::Hours(8)), At(2027, 1, 12, 10, 0));
  EXPECT_TRUE(c.IsOpen(At(2027, 1, 13, 9, 0)));
  EXPECT_FALSE(c.IsOpen(At(2027, 1, 13, 12, 45)));
  EXPECT_FALSE(c.IsOpen(At(2027, 1, 13, 17, 0)));
  EXPECT_FALSE(c.IsOpen(At(2027, 1, 16, 10, 0)));
}

TEST(ServiceCalendarTest, HolidaysOfEachRegionInAnyYear) {
  ServiceCalendar c = Line();
  // Easter 2027 is 28 March, the night clocks go forward: Friday 26 March
  // at 18:00 is due on Tuesday 30 March (Easter Monday is a holiday), in
  // summer time.
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2027, 3, 29)), "Easter Monday");
  EXPECT_EQ(c.Add(At(2027, 3, 26, 18, 0), absl::Hours(1)), At(2027, 3, 30, 10, 0));
  EXPECT_EQ(At(2027, 3, 30, 10, 0) - At(2027, 3, 26, 18, 0), absl::Hours(87));  // not 88
  // Ascension and Whit Monday follow Easter: 2026 (Easter 5 April), 2028
  // (16 April).
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2026, 5, 14)), "Ascension Day");
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2026, 5, 25)), "Whit Monday");
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2028, 4, 17)), "Easter Monday");
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2028, 5, 25)), "Ascension Day");
  // Fixed dates, Brussels' Iris Day, and what the region does not close on.
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2027, 7, 21)), "National Day");
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2027, 5, 8)), "Iris Day");
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2027, 7, 14)), "");
  EXPECT_EQ(c.HolidayOn(absl::CivilDay(2027, 7, 11)), "");
  EXPECT_EQ(c.ClosedBecause(absl::CivilDay(2027, 11, 11)), "Armistice Day");
  EXPECT_EQ(c.ClosedBecause(absl::CivilDay(2027, 11, 13)), "");  // a Saturday: no hours anyway

  ServiceCalendar france;
  ASSERT_TRUE(france.AddHours("mon-fri 09:00-17:00").ok());
  ASSERT_TRUE(france.SetTimeZone("Europe/Paris").ok());
  ASSERT_TRUE(france.AddHolidays("fr-alsace-moselle").ok());
  EXPECT_EQ(france.HolidayOn(absl::CivilDay(2027, 7, 14)), "Bastille Day");
  EXPECT_EQ(france.HolidayOn(absl::CivilDay(2027, 5, 8)), "Victory in Europe Day");
  EXPECT_EQ(france.HolidayOn(absl::CivilDay(2027, 3, 26)), "Good Friday");
  EXPECT_EQ(france.HolidayOn(absl::CivilDay(2027, 12, 26)), "St Stephen's Day");
  EXPECT_EQ(france.HolidayOn(absl::CivilDay(2027, 7, 21)), "");
}

TEST(ServiceCalendarTest, ExceptionalClosures) {
  ServiceCalendar c = Line();
  ASSERT_TRUE(c.AddClosure("2027-01-13 12:00-17:00").ok());  // a team training
  ASSERT_TRUE(c.AddClosure("2027-12-27..2027-12-31").ok());
  ASSERT_TRUE(c.AddClosure("2027-02-01").ok());
  EXPECT_EQ(c.Add(At(2027, 1, 13, 11, 30), absl::Hours(1)), At(2027, 1, 14, 9, 30));
  EXPECT_EQ(c.ClosedBecause(absl::CivilDay(2027, 2, 1)), "closure");
  EXPECT_EQ(c.ClosedBecause(absl::CivilDay(2027, 1, 13)), "");  // open in the morning
  // Christmas (a Saturday), the week closed, New Year's Day: Monday 3 January.
  EXPECT_EQ(c.Add(At(2027, 12, 24, 15, 0), absl::Hours(2)), At(2028, 1, 3, 10, 0));
  ASSERT_EQ(c.OpenOn(absl::CivilDay(2027, 1, 13)).size(), 1u);
  EXPECT_EQ(c.OpenOn(absl::CivilDay(2027, 1, 13))[0].second, At(2027, 1, 13, 12, 0));
}

TEST(ServiceCalendarTest, MalformedSpecsAreRefusedAndChangeNothing) {
  ServiceCalendar c;
  for (const char* bad : {"mon-fri", "09:00-17:00", "mon-fri 17:00-09:00", "fri-mon 09:00-17:00",
                          "monday 09:00-17:00", "mon-fri 9:00-17:00", "mon-fri 09:00-25:00",
                          "mon-fri 09:00-17:00 extra", "mon-fri 09:00-17:00,"}) {
    absl::Status s = c.AddHours(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(bad), absl::string_view::npos) << s.message();
  }
  EXPECT_TRUE(c.always_open());
  ASSERT_TRUE(c.AddHours("mon-fri 09:00-17:00").ok());
  // Overlapping Wednesday: refused whole, Saturday not added either.
  EXPECT_EQ(c.AddHours("wed,sat 16:00-18:00").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.OpenOn(absl::CivilDay(2027, 1, 16)).empty());
  // Hours need a zone; holidays and closures need hours.
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.SetTimeZone("Europe/Atlantis").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(c.SetTimeZone("Europe/Brussels").ok());
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.AddHolidays("be-xyz").code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"2027-13-01", "2027-01-05..2027-01-01", "2027-01-05 17:00-09:00",
                          "27-01-05", "2027-01-01..2029-01-01", "tomorrow"}) {
    EXPECT_EQ(c.AddClosure(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  ServiceCalendar holidays_only;
  ASSERT_TRUE(holidays_only.AddHolidays("be").ok());
  EXPECT_EQ(holidays_only.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace carerelay::core
