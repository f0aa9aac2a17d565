// The helpdesk line's service hours: its weekly opening hours in its time
// zone, the public holidays of its region, and exceptional closures. Intake
// deadlines and escalation steps count only the time the line is open
// (helpdesk_policy.h), so that a voicemail left on Friday evening starts its
// clock when the line opens on Monday and nothing escalates over a weekend
// or a holiday, when nobody is there to act. Urgent messages do not use it:
// urgent clinical escalation runs around the clock.
//
// A calendar with no weekly hours is always open: deadlines run around the
// clock, as for a line staffed day and night (the default).
//
// Public holidays are computed for any year from the region's rules (fixed
// dates and the Easter-based ones), so a deployment does not re-enter them
// each year. Regions:
//   be        Belgium's ten legal holidays
//   be-bru    and 8 May (Iris Day, the Brussels-Capital Region)
//   be-vlg    and 11 July (the Flemish Community)
//   be-fwb    and 27 September (the French Community, Wallonia-Brussels)
//   be-dg     and 15 November (the German-speaking Community)
//   fr        France's eleven public holidays
//   fr-alsace-moselle  and Good Friday and 26 December
//
// Thread-safety: configured once before the server starts; the const
// methods are then thread-safe.
#ifndef CARERELAY_SERVER_CORE_SERVICE_CALENDAR_H_
#define CARERELAY_SERVER_CORE_SERVICE_CALENDAR_H_

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace carerelay::core {

class ServiceCalendar {
 public:
  // An open interval of one day, in minutes since local midnight.
  struct Hours {
    int from_minute = 0;
    int to_minute = 0;  // exclusive; at most 24 * 60
  };

  // Always open, until hours are added.
  ServiceCalendar() = default;

  // Adds weekly hours: "DAYS HH:MM-HH:MM[,HH:MM-HH:MM...]", days a list of
  // days or ranges of days (mon..sun), e.g. "mon-fri 09:00-12:30,13:30-17:00"
  // or "sat 09:00-12:00". INVALID_ARGUMENT (saying what is wrong) for a
  // malformed spec, an interval that ends before it starts, or one that
  // overlaps hours already given for that day.
  absl::Status AddHours(absl::string_view spec);
  // The line's time zone, e.g. "Europe/Brussels". INVALID_ARGUMENT if the
  // system's time zone database (Debian's tzdata) does not know it.
  absl::Status SetTimeZone(const std::string& name);
  // Closes the line on the public holidays of `region` (see above).
  // INVALID_ARGUMENT for an unknown region.
  absl::Status AddHolidays(absl::string_view region);
  // An exceptional closure, in the line's local time: "2026-12-24" (the
  // day), "2026-12-24..2026-12-31" (days, inclusive) or
  // "2026-12-24 12:00-17:00" (part of a day). INVALID_ARGUMENT otherwise.
  absl::Status AddClosure(absl::string_view spec);
  // INVALID_ARGUMENT when hours are given without a time zone.
  absl::Status Validate() const;

  bool always_open() const { return !has_hours_; }
  const std::string& time_zone_name() const { return zone_name_; }
  const absl::TimeZone& time_zone() const { return zone_; }

  // When `open_time` of the line's open time has passed after `start`: the
  // time counted only while the line is open (a zero duration gives the
  // next opening, or `start` itself while open). Always open: start +
  // open_time. A calendar with no open time in the next 400 days (every
  // day closed) also falls back to start + open_time, rather than never.
  absl::Time Add(absl::Time start, absl::Duration open_time) const;
  bool IsOpen(absl::Time t) const;
  // The line's open intervals on the local `day`, in order: its weekly
  // hours less holidays and closures.
  std::vector<std::pair<absl::Time, absl::Time>> OpenOn(absl::CivilDay day) const;
  // The name of the public holiday on `day` in the configured regions
  // ("Easter Monday"), or "" if it is none.
  std::string HolidayOn(absl::CivilDay day) const;
  // Why the line is closed all of `day` though it has weekly hours then:
  // the holiday's name, "closure", or "" when it is not.
  std::string ClosedBecause(absl::CivilDay day) const;
  absl::CivilDay LocalDay(absl::Time t) const { return absl::ToCivilDay(t, zone_); }

 private:
  struct Closure {
    absl::CivilDay first, last;  // inclusive
    Hours hours;                 // {0, 1440}: the whole day
  };

  // The day's intervals in minutes, holidays and closures removed.
  std::vector<Hours> OpenMinutes(absl::CivilDay day) const;

  bool has_hours_ = false;
  std::array<std::vector<Hours>, 7> weekly_;  // by absl::Weekday, monday first
  std::string zone_name_;
  absl::TimeZone zone_;  // UTC until SetTimeZone
  std::vector<std::string> regions_;
  std::vector<Closure> closures_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_SERVICE_CALENDAR_H_
