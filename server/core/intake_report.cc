#include "server/core/intake_report.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace carerelay::core {
namespace {

// "INTAKE_CATEGORY_HOSPITAL_DISCHARGE" -> "hospital-discharge", the word
// the CLI's options take.
std::string Word(const std::string& enum_name, absl::string_view prefix) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(absl::StripPrefix(enum_name, prefix)),
                             {{"_", "-"}});
}

bool FirstAnswer(v1::IntakeTransition::Kind kind) {
  using T = v1::IntakeTransition;
  return kind == T::KIND_ROUTED || kind == T::KIND_ANSWERED || kind == T::KIND_ORIENTED ||
         kind == T::KIND_CANCELLED;
}

bool Closed(v1::IntakeState state) {
  return state == v1::INTAKE_STATE_RESOLVED || state == v1::INTAKE_STATE_CANCELLED;
}

v1::IntakeReport::Duration Measure(const std::string& name, std::vector<int64_t> ms) {
  v1::IntakeReport::Duration d;
  d.set_measure(name);
  d.set_count(ms.size());
  if (ms.empty()) return d;
  std::sort(ms.begin(), ms.end());
  d.set_median_ms(ms[(ms.size() - 1) / 2]);
  d.set_p90_ms(ms[(ms.size() * 9 + 9) / 10 - 1]);
  return d;
}

}  // namespace

v1::IntakeReport CountIntakes(const std::vector<v1::Intake>& intakes, int64_t from_ms,
                              int64_t to_ms) {
  v1::IntakeReport report;
  report.set_from_ms(from_ms);
  report.set_to_ms(to_ms);
  // dimension -> enum number -> (word, count); the enum's order is the
  // order of the report.
  std::map<int, std::map<int, std::pair<std::string, uint64_t>>> counts;
  const std::vector<std::string> dimensions = {"caller", "category", "source", "urgency",
                                               "outcome"};
  auto count = [&](int dimension, int value, const std::string& word) {
    auto& [name, n] = counts[dimension][value];
    name = word;
    ++n;
  };
  std::vector<int64_t> first_answer, closure;
  for (const v1::Intake& i : intakes) {
    if (i.opened_at_ms() < from_ms || i.opened_at_ms() >= to_ms) continue;
    report.set_intakes(report.intakes() + 1);
    count(0, i.caller_kind(), Word(v1::CallerKind_Name(i.caller_kind()), "CALLER_KIND_"));
    count(1, i.category(), Word(v1::IntakeCategory_Name(i.category()), "INTAKE_CATEGORY_"));
    count(2, i.source(), Word(v1::IntakeSource_Name(i.source()), "INTAKE_SOURCE_"));
    count(3, i.urgency(), Word(v1::IntakeUrgency_Name(i.urgency()), "INTAKE_URGENCY_"));
    count(4, i.outcome(),
          i.outcome() == v1::INTAKE_OUTCOME_UNSPECIFIED
              ? "open"
              : Word(v1::IntakeOutcome_Name(i.outcome()), "INTAKE_OUTCOME_"));
    for (const auto& t : i.history()) {
      if (FirstAnswer(t.kind())) {
        first_answer.push_back(t.at_ms() - i.opened_at_ms());
        break;
      }
    }
    if (Closed(i.state())) {
      for (auto t = i.history().rbegin(); t != i.history().rend(); ++t) {
        if (Closed(t->state())) {
          closure.push_back(t->at_ms() - i.opened_at_ms());
          break;
        }
      }
    }
  }
  for (const auto& [dimension, values] : counts) {
    for (const auto& [value, entry] : values) {
      v1::IntakeReport::Count* c = report.add_counts();
      c->set_dimension(dimensions[dimension]);
      c->set_value(entry.first);
      c->set_count(entry.second);
    }
  }
  *report.add_durations() = Measure("first-answer", std::move(first_answer));
  *report.add_durations() = Measure("closure", std::move(closure));
  return report;
}

}  // namespace carerelay::core
