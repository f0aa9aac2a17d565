#include "server/helpdesk_options.h"

#include <CLI/CLI.hpp>
#include <functional>

namespace carerelay {
namespace {

// A repeatable option whose every value goes to `apply`; a value it
// refuses is a parse error with its message.
void SpecsOption(CLI::App* app, const char* name,
                 std::function<absl::Status(const std::string&)> apply, const char* help) {
  app->add_option_function<std::vector<std::string>>(
         name,
         [apply = std::move(apply)](const std::vector<std::string>& specs) {
           for (const auto& spec : specs) {
             absl::Status s = apply(spec);
             if (!s.ok()) throw CLI::ValidationError(std::string(s.message()));
           }
         },
         help)
      ->take_all();
}

}  // namespace

void AddHelpdeskOptions(CLI::App* app, ServerConfig* c) {
  core::HelpdeskPolicy& p = c->helpdesk;
  app->add_option_function<int>(
      "--urgent-reminder-minutes", [&p](int m) { p.urgent_reminder_interval = absl::Minutes(m); },
      "Re-notify who has not acknowledged an urgent message this often (default 2)");
  app->add_option_function<int>(
      "--urgent-window-minutes", [&p](int m) { p.urgent_reminder_window = absl::Minutes(m); },
      "Escalate an urgent message still unacknowledged after this long (default 20)");
  app->add_option("--helpdesk-account", p.helpdesk_accounts,
                  "Helpdesk staff account id: told of urgent escalations, intake notes are "
                  "encrypted to it (repeatable)")
      ->take_all();
  app->add_option("--helpdesk-supervisor", p.supervisors,
                  "Account id at the top of the intake escalation ladder (repeatable; default: "
                  "the helpdesk staff)")
      ->take_all();
  SpecsOption(
      app, "--intake-deadline", [&p](const std::string& spec) { return p.SetDeadline(spec); },
      "Deadline STATE:URGENCY=MINUTES of an intake state (new, routed, accepted) by urgency "
      "(low, normal, high), repeatable; e.g. --intake-deadline routed:high=20");
  app->add_option_function<std::string>(
      "--intake-ladder",
      [&p](const std::string& spec) {
        absl::Status s = p.SetLadder(spec);
        if (!s.ok()) throw CLI::ValidationError(std::string(s.message()));
      },
      "Escalation steps after a missed intake deadline (default assignee,coordinator,supervisor)");
  app->add_option_function<int>(
      "--intake-escalation-step-minutes",
      [&p](int m) { p.ladder_step_interval = absl::Minutes(m); },
      "Time between two escalation steps (default 15)");
  // The line's service hours (core/service_calendar.h).
  core::ServiceCalendar& hours = p.service_hours;
  SpecsOption(
      app, "--service-hours", [&hours](const std::string& v) { return hours.AddHours(v); },
      "The line's weekly hours \"DAYS HH:MM-HH:MM[,HH:MM-HH:MM]\", repeatable, "
      "e.g. \"mon-fri 09:00-17:00\"; intake deadlines then count only these "
      "hours (default: around the clock)");
  app->add_option_function<std::string>(
      "--service-time-zone",
      [&p](const std::string& zone) {
        absl::Status s = p.service_hours.SetTimeZone(zone);
        if (!s.ok()) throw CLI::ValidationError(std::string(s.message()));
      },
      "The time zone of the service hours, e.g. Europe/Brussels");
  SpecsOption(
      app, "--service-holidays", [&hours](const std::string& v) { return hours.AddHolidays(v); },
      "Close on the public holidays of a region: be, be-bru, be-vlg, be-fwb, "
      "be-dg, fr or fr-alsace-moselle (repeatable)");
  SpecsOption(
      app, "--service-closure", [&hours](const std::string& v) { return hours.AddClosure(v); },
      "An exceptional closure, local time: YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD or "
      "\"YYYY-MM-DD HH:MM-HH:MM\" (repeatable)");
  auto days = [app](const char* name, absl::Duration* to, const char* help) {
    app->add_option_function<int>(
        name, [to](int d) { *to = absl::Hours(24) * d; }, help);
  };
  days("--case-management-period-days", &p.case_management_period,
       "Period of a case management when the assessor names none (default 90)");
  days("--case-management-max-period-days", &p.case_management_max_period,
       "Longest period an assessor may give (default 365)");
  days("--urgent-case-management-days", &p.urgent_case_management_period,
       "Period of an urgent start by a pool member, until an assessor evaluates it (default 30)");
  days("--evaluation-reminder-days", &p.evaluation_reminder_lead,
       "Remind the case manager and the assessor this long before an evaluation (default 14)");
  app->add_option_function<int>(
      "--timer-interval-seconds", [c](int s) { c->timer_interval = absl::Seconds(s); },
      "How often due deadlines and reminders are looked for (default 5)");
}

}  // namespace carerelay
