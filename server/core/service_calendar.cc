#include "server/core/service_calendar.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace carerelay::core {
namespace {

constexpr int kDayMinutes = 24 * 60;
// How far Add looks for open time before giving up on the calendar.
constexpr int kSearchDays = 400;

// A public holiday: a fixed date, or a number of days from Easter Sunday.
struct Holiday {
  const char* name;
  int month = 0, day = 0;  // fixed date when month != 0
  int after_easter = 0;
};

const std::vector<Holiday> kBelgium = {
    {"New Year's Day", 1, 1},    {"Easter Monday", 0, 0, 1}, {"Labour Day", 5, 1},
    {"Ascension Day", 0, 0, 39}, {"Whit Monday", 0, 0, 50},  {"National Day", 7, 21},
    {"Assumption", 8, 15},       {"All Saints' Day", 11, 1}, {"Armistice Day", 11, 11},
    {"Christmas Day", 12, 25},
};
const std::vector<Holiday> kFrance = {
    {"New Year's Day", 1, 1},        {"Easter Monday", 0, 0, 1},  {"Labour Day", 5, 1},
    {"Victory in Europe Day", 5, 8}, {"Ascension Day", 0, 0, 39}, {"Whit Monday", 0, 0, 50},
    {"Bastille Day", 7, 14},         {"Assumption", 8, 15},       {"All Saints' Day", 11, 1},
    {"Armistice Day", 11, 11},       {"Christmas Day", 12, 25},
};

struct Region {
  const char* code;
  const std::vector<Holiday>* national;
  std::vector<Holiday> extra;
};

const std::vector<Region>& Regions() {
  static const std::vector<Region> regions = {
      {"be", &kBelgium, {}},
      {"be-bru", &kBelgium, {{"Iris Day", 5, 8}}},
      {"be-vlg", &kBelgium, {{"Day of the Flemish Community", 7, 11}}},
      {"be-fwb", &kBelgium, {{"Day of the French Community", 9, 27}}},
      {"be-dg", &kBelgium, {{"Day of the German-speaking Community", 11, 15}}},
      {"fr", &kFrance, {}},
      {"fr-alsace-moselle", &kFrance, {{"Good Friday", 0, 0, -2}, {"St Stephen's Day", 12, 26}}},
  };
  return regions;
}

// Easter Sunday of the Gregorian `year` (the anonymous Gregorian algorithm
// of Meeus, Jones and Butcher).
absl::CivilDay EasterSunday(int64_t year) {
  const int64_t a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4;
  const int64_t f = (b + 8) / 25, g = (b - f + 1) / 3;
  const int64_t h = (19 * a + b - d - g + 15) % 30;
  const int64_t i = c / 4, k = c % 4;
  const int64_t l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int64_t m = (a + 11 * h + 22 * l) / 451;
  const int64_t month = (h + l - 7 * m + 114) / 31;
  const int64_t day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, static_cast<int>(month), static_cast<int>(day));
}

bool Falls(const Holiday& h, absl::CivilDay day) {
  if (h.month != 0) return day.month() == h.month && day.day() == h.day;
  return EasterSunday(day.year()) + h.after_easter == day;
}

// "HH:MM" to minutes since midnight, 00:00 to 24:00.
bool ParseClock(absl::string_view text, int* minutes) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  int h = 0, m = 0;
  if (parts.size() != 2 || parts[0].size() != 2 || parts[1].size() != 2 ||
      !absl::SimpleAtoi(parts[0], &h) || !absl::SimpleAtoi(parts[1], &m) || h < 0 || h > 24 ||
      m < 0 || m > 59 || (h == 24 && m != 0)) {
    return false;
  }
  *minutes = h * 60 + m;
  return true;
}

// "HH:MM-HH:MM", a non-empty interval.
bool ParseHours(absl::string_view text, ServiceCalendar::Hours* hours) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  return parts.size() == 2 &&
         ParseClock(absl::StripAsciiWhitespace(parts[0]), &hours->from_minute) &&
         ParseClock(absl::StripAsciiWhitespace(parts[1]), &hours->to_minute) &&
         hours->from_minute < hours->to_minute;
}

int DayIndex(absl::string_view name) {
  static constexpr absl::string_view kNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 7; ++i) {
    if (name == kNames[i]) return i;
  }
  return -1;
}

bool ParseDay(absl::string_view text, absl::CivilDay* day) {
  return text.size() == 10 && absl::ParseCivilTime(text, day);
}

// `open` less `closed`, both sorted and disjoint within themselves.
std::vector<ServiceCalendar::Hours> Subtract(std::vector<ServiceCalendar::Hours> open,
                                             const ServiceCalendar::Hours& closed) {
  std::vector<ServiceCalendar::Hours> out;
  for (const auto& h : open) {
    if (closed.to_minute <= h.from_minute || h.to_minute <= closed.from_minute) {
      out.push_back(h);
      continue;
    }
    if (h.from_minute < closed.from_minute) out.push_back({h.from_minute, closed.from_minute});
    if (closed.to_minute < h.to_minute) out.push_back({closed.to_minute, h.to_minute});
  }
  return out;
}

}  // namespace

absl::Status ServiceCalendar::AddHours(absl::string_view spec) {
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "--service-hours takes \"DAYS HH:MM-HH:MM[,HH:MM-HH:MM]\", e.g. \"mon-fri 09:00-17:00\" "
      "(days mon to sun, lists and ranges; each interval ends after it starts); got \"",
      spec, "\""));
  const std::string lowered = absl::AsciiStrToLower(absl::StripAsciiWhitespace(spec));
  std::vector<absl::string_view> parts = absl::StrSplit(lowered, ' ', absl::SkipWhitespace());
  if (parts.size() != 2) return bad;
  std::vector<int> days;
  for (absl::string_view item : absl::StrSplit(parts[0], ',')) {
    std::vector<absl::string_view> range = absl::StrSplit(item, '-');
    const int first = DayIndex(range[0]);
    const int last = range.size() == 2 ? DayIndex(range[1]) : first;
    if (range.size() > 2 || first < 0 || last < first) return bad;
    for (int d = first; d <= last; ++d) days.push_back(d);
  }
  std::vector<Hours> hours;
  for (absl::string_view item : absl::StrSplit(parts[1], ',')) {
    Hours h;
    if (!ParseHours(item, &h)) return bad;
    hours.push_back(h);
  }
  // All checked before any is kept: a refused spec changes nothing.
  std::array<std::vector<Hours>, 7> weekly = weekly_;
  for (int d : days) {
    for (const Hours& h : hours) {
      for (const Hours& other : weekly[d]) {
        if (h.from_minute < other.to_minute && other.from_minute < h.to_minute) {
          return absl::InvalidArgumentError(
              absl::StrCat("--service-hours \"", spec, "\" overlaps hours already given"));
        }
      }
      weekly[d].push_back(h);
    }
    std::sort(weekly[d].begin(), weekly[d].end(),
              [](const Hours& a, const Hours& b) { return a.from_minute < b.from_minute; });
  }
  weekly_ = std::move(weekly);
  has_hours_ = true;
  return absl::OkStatus();
}

absl::Status ServiceCalendar::SetTimeZone(const std::string& name) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(name, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--service-time-zone: unknown time zone \"", name,
        "\" (a name of the tz database such as Europe/Brussels or Europe/Paris; Debian's tzdata "
        "package provides them)"));
  }
  zone_ = zone;
  zone_name_ = name;
  return absl::OkStatus();
}

absl::Status ServiceCalendar::AddHolidays(absl::string_view region) {
  const std::string code = absl::AsciiStrToLower(absl::StripAsciiWhitespace(region));
  for (const Region& r : Regions()) {
    if (code == r.code) {
      if (std::find(regions_.begin(), regions_.end(), code) == regions_.end()) {
        regions_.push_back(code);
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--service-holidays: unknown region \"", region,
                   "\"; known: be, be-bru, be-vlg, be-fwb, be-dg, fr, fr-alsace-moselle"));
}

absl::Status ServiceCalendar::AddClosure(absl::string_view spec) {
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "--service-closure takes \"YYYY-MM-DD\", \"YYYY-MM-DD..YYYY-MM-DD\" or \"YYYY-MM-DD "
      "HH:MM-HH:MM\" (local time), got \"",
      spec, "\""));
  Closure c;
  c.hours = {0, kDayMinutes};
  const absl::string_view text = absl::StripAsciiWhitespace(spec);
  std::vector<absl::string_view> words = absl::StrSplit(text, ' ', absl::SkipWhitespace());
  if (words.size() == 2) {
    if (!ParseDay(words[0], &c.first) || !ParseHours(words[1], &c.hours)) return bad;
    c.last = c.first;
  } else if (words.size() == 1) {
    std::vector<absl::string_view> range = absl::StrSplit(text, "..");
    if (range.size() > 2 || !ParseDay(range[0], &c.first)) return bad;
    c.last = c.first;
    if (range.size() == 2 && (!ParseDay(range[1], &c.last) || c.last < c.first)) return bad;
    if (c.last - c.first > 366) {
      return absl::InvalidArgumentError(
          absl::StrCat("--service-closure \"", spec, "\" is longer than a year"));
    }
  } else {
    return bad;
  }
  closures_.push_back(c);
  return absl::OkStatus();
}

absl::Status ServiceCalendar::Validate() const {
  if (has_hours_ && zone_name_.empty()) {
    return absl::InvalidArgumentError(
        "--service-hours needs --service-time-zone (e.g. Europe/Brussels): the line's hours are "
        "local times");
  }
  if (!has_hours_ && (!regions_.empty() || !closures_.empty())) {
    return absl::InvalidArgumentError(
        "--service-holidays and --service-closure need --service-hours: without them the line "
        "is open around the clock");
  }
  return absl::OkStatus();
}

std::string ServiceCalendar::HolidayOn(absl::CivilDay day) const {
  for (const std::string& code : regions_) {
    for (const Region& r : Regions()) {
      if (code != r.code) continue;
      for (const auto* list : {&r.extra, r.national}) {
        for (const Holiday& h : *list) {
          if (Falls(h, day)) return h.name;
        }
      }
    }
  }
  return "";
}

std::vector<ServiceCalendar::Hours> ServiceCalendar::OpenMinutes(absl::CivilDay day) const {
  const int weekday = static_cast<int>(absl::GetWeekday(day));  // monday = 0
  std::vector<Hours> open = weekly_[weekday];
  if (open.empty() || !HolidayOn(day).empty()) return {};
  for (const Closure& c : closures_) {
    if (c.first <= day && day <= c.last) open = Subtract(std::move(open), c.hours);
  }
  return open;
}

std::string ServiceCalendar::ClosedBecause(absl::CivilDay day) const {
  if (weekly_[static_cast<int>(absl::GetWeekday(day))].empty()) return "";
  std::string holiday = HolidayOn(day);
  if (!holiday.empty()) return holiday;
  return OpenMinutes(day).empty() ? "closure" : "";
}

std::vector<std::pair<absl::Time, absl::Time>> ServiceCalendar::OpenOn(absl::CivilDay day) const {
  std::vector<std::pair<absl::Time, absl::Time>> out;
  const absl::CivilMinute midnight(day);
  for (const Hours& h : OpenMinutes(day)) {
    out.emplace_back(absl::FromCivil(midnight + h.from_minute, zone_),
                     absl::FromCivil(midnight + h.to_minute, zone_));
  }
  return out;
}

absl::Time ServiceCalendar::Add(absl::Time start, absl::Duration open_time) const {
  if (always_open()) return start + open_time;
  absl::Duration left = open_time;
  absl::CivilDay day = LocalDay(start);
  for (int i = 0; i < kSearchDays; ++i, ++day) {
    for (const auto& [open, close] : OpenOn(day)) {
      if (close <= start) continue;
      const absl::Time from = std::max(open, start);
      if (left <= close - from) return from + left;
      left -= close - from;
    }
  }
  return start + open_time;
}

bool ServiceCalendar::IsOpen(absl::Time t) const {
  if (always_open()) return true;
  for (const auto& [open, close] : OpenOn(LocalDay(t))) {
    if (open <= t && t < close) return true;
  }
  return false;
}

}  // namespace carerelay::core
