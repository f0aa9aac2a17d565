// The helpdesk line's activity report (intakes.proto, ReportIntakes): what
// the line must give its funders each year, counted from the intakes'
// states and transitions alone, never their notes or who called.
//
// Thread-safety: a value type; the function holds no state.
#ifndef CARERELAY_SERVER_CORE_INTAKE_REPORT_H_
#define CARERELAY_SERVER_CORE_INTAKE_REPORT_H_

#include <cstdint>
#include <vector>

#include "carerelay/v1/intakes.pb.h"

namespace carerelay::core {

// Counts `intakes` opened in [from_ms, to_ms) (the others are skipped):
// each dimension's values in a fixed order (the enum's), only those seen;
// the durations of those that reached the measure. The caller checks the
// period and who asks.
v1::IntakeReport CountIntakes(const std::vector<v1::Intake>& intakes, int64_t from_ms,
                              int64_t to_ms);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_INTAKE_REPORT_H_
