#include "server/core/consistency_check.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "carerelay/v1/intakes.pb.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/audit_log.h"
#include "server/store/account_table.h"
#include "server/store/attachment_table.h"
#include "server/store/audit_table.h"
#include "server/store/encoding.h"
#include "server/store/erased_team_table.h"
#include "server/store/records.pb.h"
#include "server/store/timer_table.h"

namespace carerelay::core {
namespace {

using store::Table;

std::string Hex(absl::string_view raw) { return absl::BytesToHexString(raw); }

class Checker {
 public:
  explicit Checker(store::Database& db) : db_(db), accounts_(&db), attachments_(&db) {}

  absl::StatusOr<CheckReport> Run() {
    for (auto step : {&Checker::Teams, &Checker::ErasedTeams, &Checker::Memberships,
                      &Checker::Rosters, &Checker::Queues, &Checker::Attachments, &Checker::Intakes,
                      &Checker::UrgentMessages, &Checker::Timers}) {
      absl::Status s = (this->*step)();
      if (!s.ok()) return s;
    }
    return std::move(report_);
  }

 private:
  template <typename... Args>
  void Violation(Args&&... args) {
    report_.violations.push_back(absl::StrCat(std::forward<Args>(args)...));
  }

  absl::Status Teams() {
    store::AuditTable audit_table(&db_);
    AuditLog audit(&audit_table);
    return db_.Scan(Table::kTeams, "", "", [&](absl::string_view key, absl::string_view value) {
      ++report_.teams;
      store::TeamRecord team;
      if (!team.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        Violation("teams: team ", Hex(key), " does not parse");
        return true;
      }
      const std::string id = Hex(key);
      if (team.team_id() != key)
        Violation("teams: team ", id, " holds the id ", Hex(team.team_id()));
      teams_[std::string(key)] = team;
      std::string coordinator, case_manager;
      std::set<std::string> people;
      for (const auto& m : team.members()) {
        if (!people.insert(m.account_id()).second) {
          Violation("teams: team ", id, " lists ", Hex(m.account_id()), " twice");
        }
        if (!v1::Role_IsValid(m.role()) || m.role() == v1::ROLE_UNSPECIFIED) {
          Violation("teams: team ", id, ": ", Hex(m.account_id()), " has role ", m.role());
        }
        if (!v1::MemberStatus_IsValid(m.status()) || m.status() == v1::MEMBER_STATUS_UNSPECIFIED) {
          Violation("teams: team ", id, ": ", Hex(m.account_id()), " has status ", m.status());
        }
        if (m.status() != v1::MEMBER_STATUS_ACTIVE) continue;
        // The coordinator: role COORDINATOR, or the patient or a caregiver
        // who coordinates (TeamMemberRecord.coordinates).
        const bool coordinates = m.role() == v1::ROLE_COORDINATOR || m.coordinates();
        if (m.coordinates() && m.role() != v1::ROLE_PATIENT && m.role() != v1::ROLE_CAREGIVER) {
          Violation("teams: team ", id, ": ", Hex(m.account_id()), " coordinates with role ",
                    m.role(), " (only the patient or a caregiver keeps their role)");
        }
        std::string* holder = coordinates                         ? &coordinator
                              : m.role() == v1::ROLE_CASE_MANAGER ? &case_manager
                                                                  : nullptr;
        if (!holder) continue;
        if (!holder->empty()) {
          Violation("teams: team ", id, " has two active ",
                    coordinates ? "coordinators" : "case managers", ": ", Hex(*holder), " and ",
                    Hex(m.account_id()));
        }
        *holder = m.account_id();
      }
      if (!coordinator.empty() && coordinator == case_manager) {
        Violation("teams: team ", id, ": ", Hex(coordinator),
                  " is both the coordinator and the case manager");
      }
      absl::StatusOr<v1::VerifyAuditResponse> verified = audit.Verify(team);
      if (!verified.ok()) {
        Violation("audit: team ", id, ": cannot be read: ", verified.status().ToString());
      } else {
        report_.audit_entries += verified->entries();
        if (!verified->intact()) {
          Violation("audit: team ", id, ": chain broken at entry ", verified->broken_at_sequence(),
                    ": ", verified->problem());
        }
      }
      return true;
    });
  }

  // The audit logs kept of erased teams (erased_teams.h): each chain checks
  // against the head kept at the erasure, and no team is both.
  absl::Status ErasedTeams() {
    store::ErasedTeamTable table(&db_);
    store::AuditTable audit_table(&db_);
    AuditLog audit(&audit_table);
    return table.ForEach([&](const store::ErasedTeamRecord& r) {
      auto id = store::TeamId::FromBytes(r.team_id());
      if (!id.ok()) {
        Violation("erased teams: a record holds the malformed id ", Hex(r.team_id()));
        return true;
      }
      if (teams_.count(r.team_id())) {
        Violation("erased teams: team ", id->Hex(), " is both erased and a team");
      }
      absl::StatusOr<v1::VerifyAuditResponse> verified =
          audit.Verify(*id, r.audit_sequence(), r.audit_hash());
      if (!verified.ok()) {
        Violation("audit: erased team ", id->Hex(),
                  ": cannot be read: ", verified.status().ToString());
      } else {
        report_.audit_entries += verified->entries();
        if (!verified->intact()) {
          Violation("audit: erased team ", id->Hex(), ": chain broken at entry ",
                    verified->broken_at_sequence(), ": ", verified->problem());
        }
      }
      return true;
    });
  }

  absl::Status Memberships() {
    // Every person on a team has an index entry...
    std::set<std::pair<std::string, std::string>> listed;  // (account, team)
    absl::Status s =
        db_.Scan(Table::kMemberships, "", "", [&](absl::string_view key, absl::string_view) {
          if (key.size() != 32) {
            Violation("memberships: malformed key ", Hex(key));
            return true;
          }
          listed.emplace(std::string(key.substr(0, 16)), std::string(key.substr(16)));
          return true;
        });
    if (!s.ok()) return s;
    for (const auto& [team_id, team] : teams_) {
      for (const auto& m : team.members()) {
        if (!listed.count({m.account_id(), team_id})) {
          Violation("memberships: ", Hex(m.account_id()), " is on team ", Hex(team_id),
                    " but the index does not say so");
        }
      }
    }
    // ... and every entry names a team that lists the person.
    for (const auto& [account, team_id] : listed) {
      auto team = teams_.find(team_id);
      bool on = false;
      if (team != teams_.end()) {
        for (const auto& m : team->second.members()) on |= m.account_id() == account;
      }
      if (!on) {
        Violation("memberships: the index puts ", Hex(account), " on team ", Hex(team_id),
                  team == teams_.end() ? ", which does not exist" : ", which does not list them");
      }
    }
    return absl::OkStatus();
  }

  // An organisation's roster and its staff's accounts say the same, in one
  // commit each change (AccountRegistry::ChangeRoster).
  absl::Status Rosters() {
    std::set<std::pair<std::string, std::string>> rosters, staff_of;  // (organisation, staff)
    std::set<std::string> organisations;
    absl::Status s = accounts_.ForEachAccount([&](const store::AccountRecord& a) {
      if (a.kind() == v1::ACCOUNT_KIND_ORGANISATION) organisations.insert(a.account_id());
      if (a.roster_size() > 0 && a.kind() != v1::ACCOUNT_KIND_ORGANISATION) {
        Violation("rosters: ", Hex(a.account_id()), " has a roster but is not an organisation");
      }
      for (const auto& e : a.roster()) rosters.emplace(a.account_id(), e.account_id());
      for (const auto& org : a.staff_of()) staff_of.emplace(org, a.account_id());
      return true;
    });
    if (!s.ok()) return s;
    for (const auto& [org, staff] : rosters) {
      if (!staff_of.count({org, staff})) {
        Violation("rosters: ", Hex(org), " lists ", Hex(staff), " whose account does not say so");
      }
    }
    for (const auto& [org, staff] : staff_of) {
      if (!rosters.count({org, staff})) {
        Violation("rosters: ", Hex(staff), " says it is on the roster of ", Hex(org),
                  organisations.count(org) ? ", which does not list it"
                                           : ", which is not an organisation");
      }
    }
    return absl::OkStatus();
  }

  // Active (true) or revoked (false) devices, read once each.
  absl::StatusOr<std::optional<bool>> DeviceActive(const store::DeviceRef& device) {
    const std::string key = device.ToString();
    auto known = devices_.find(key);
    if (known != devices_.end()) return known->second;
    absl::StatusOr<store::DeviceRecord> record = accounts_.GetDevice(device);
    std::optional<bool> active;
    if (record.ok()) {
      active = !record->revoked();
    } else if (!absl::IsNotFound(record.status())) {
      return record.status();
    }
    devices_[key] = active;
    return active;
  }

  absl::Status Queues() {
    absl::Status failed = absl::OkStatus();
    absl::Status s =
        db_.Scan(Table::kQueue, "", "", [&](absl::string_view key, absl::string_view value) {
          ++report_.envelopes;
          if (key.size() != 28) {
            Violation("queue: malformed key ", Hex(key));
            return true;
          }
          auto account = store::AccountId::FromBytes(key.substr(0, 16));
          store::DeviceRef device{*account, store::ReadBigEndian32(key, 16)};
          const uint64_t sequence = store::ReadBigEndian64(key, 20);
          const std::string where =
              absl::StrCat("queue: envelope ", sequence, " of device ", device.ToString());
          v1::Envelope e;
          if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            Violation(where, " does not parse");
            return true;
          }
          if (e.sequence() != sequence) Violation(where, " holds the sequence ", e.sequence());
          if (e.destination_device_id() != device.device_id) {
            Violation(where, " is addressed to device ", e.destination_device_id());
          }
          absl::StatusOr<std::optional<bool>> active = DeviceActive(device);
          if (!active.ok()) {
            failed = active.status();
            return false;
          }
          if (!active->has_value()) {
            Violation(where, ": no such device");
          } else if (!**active) {
            Violation(where, ": the device is revoked");
          }
          return true;
        });
    return s.ok() ? failed : s;
  }

  absl::Status Attachments() {
    const uint64_t block = store::AttachmentTable::kBlockBytes;
    return attachments_.ForEach([&](const store::AttachmentRecord& a) {
      ++report_.attachments;
      const std::string where = absl::StrCat("attachments: ", Hex(a.attachment_id()));
      if (!teams_.count(a.team_id())) Violation(where, ": its team ", Hex(a.team_id()), " is gone");
      if (a.expires_at_ms() == 0) Violation(where, ": no expiry");
      if (a.received_bytes() > a.ciphertext_size()) {
        Violation(where, ": ", a.received_bytes(), " bytes received of ", a.ciphertext_size());
      }
      uint64_t blocks = 0, bytes = 0;
      bool in_order = true;
      absl::Status s = attachments_.ScanBlocks(a, 0, [&](uint64_t index, absl::string_view data) {
        in_order &= index == blocks;
        ++blocks;
        bytes += data.size();
        return true;
      });
      if (!s.ok()) {
        Violation(where, ": blocks cannot be read: ", s.ToString());
        return true;
      }
      if (!in_order) Violation(where, ": a block is missing");
      if (bytes != a.received_bytes()) {
        Violation(where, ": ", bytes, " bytes in its blocks, ", a.received_bytes(), " recorded");
      }
      if (!a.complete() && a.received_bytes() % block != 0) {
        Violation(where, ": unfinished with a partial block");
      }
      if (a.complete() && a.received_bytes() != a.ciphertext_size()) {
        Violation(where, ": complete with ", a.received_bytes(), " of ", a.ciphertext_size(),
                  " bytes");
      }
      return true;
    });
  }

  absl::Status Intakes() {
    return db_.Scan(Table::kIntakes, "", "", [&](absl::string_view key, absl::string_view value) {
      ++report_.intakes;
      v1::Intake intake;
      if (!intake.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        Violation("intakes: intake ", Hex(key), " does not parse");
        return true;
      }
      intakes_[std::string(key)] = intake;
      if (!intake.team_id().empty()) {
        auto team = store::TeamId::FromHex(intake.team_id());
        if (!team.ok() || !teams_.count(std::string(team->Bytes()))) {
          Violation("intakes: intake ", Hex(key), " names team ", intake.team_id(),
                    ", which does not exist");
        }
      }
      return true;
    });
  }

  // A deadline's timer falls at it or a ladder step after; a case
  // management's evaluation reminder, within its period. (An intake
  // written since next_alert_ms exists names its timer exactly.)
  static int64_t EarliestTimer(const v1::Intake& intake) {
    const v1::CaseManagement& cm = intake.case_management();
    if (intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT && !cm.reminded()) {
      return cm.period_started_at_ms();
    }
    return intake.deadline_ms();
  }

  absl::Status UrgentMessages() {
    return db_.Scan(
        Table::kUrgentMessages, "m", "", [&](absl::string_view key, absl::string_view value) {
          ++report_.urgent_messages;
          store::UrgentMessageRecord r;
          if (key.size() != 9 || !r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            Violation("urgent: record ", Hex(key), " does not parse");
            return true;
          }
          urgent_[store::ReadBigEndian64(key, 1)] = r;
          return true;
        });
  }

  absl::Status Timers() {
    std::map<std::string, int> per_intake;
    std::set<uint64_t> urgent_with_timer;
    absl::Status s =
        db_.Scan(Table::kTimers, "", "", [&](absl::string_view key, absl::string_view) {
          ++report_.timers;
          absl::StatusOr<store::Timer> t = store::Timer::FromKey(key);
          if (!t.ok()) {
            Violation("timers: malformed key ", Hex(key));
            return true;
          }
          const std::string where = absl::StrCat("timers: timer due at ", t->due_ms, " for ");
          switch (t->kind) {
            case store::TimerKind::kIntakeDeadline: {
              auto intake = intakes_.find(t->target);
              if (intake == intakes_.end()) {
                Violation(where, "intake ", Hex(t->target), ", which does not exist");
              } else if (intake->second.deadline_ms() == 0 ||
                         t->due_ms < EarliestTimer(intake->second) ||
                         (intake->second.next_alert_ms() != 0 &&
                          t->due_ms != intake->second.next_alert_ms())) {
                Violation(where, "intake ", Hex(t->target), ", which waits for no deadline then");
              } else if (++per_intake[t->target] == 2) {
                Violation("timers: intake ", Hex(t->target), " has more than one pending timer");
              }
              break;
            }
            case store::TimerKind::kUrgentReminder: {
              const uint64_t sequence =
                  t->target.size() == 8 ? store::ReadBigEndian64(t->target, 0) : 0;
              auto urgent = urgent_.find(sequence);
              if (urgent == urgent_.end()) {
                Violation(where, "urgent message ", sequence, ", which does not exist");
              } else if (urgent->second.next_due_ms() != t->due_ms) {
                Violation(where, "urgent message ", sequence, ", which waits for ",
                          urgent->second.next_due_ms());
              } else {
                urgent_with_timer.insert(sequence);
              }
              break;
            }
            default:
              Violation(where, "a kind this server does not know (", static_cast<int>(t->kind),
                        ")");
          }
          return true;
        });
    if (!s.ok()) return s;
    for (const auto& [sequence, r] : urgent_) {
      if (r.next_due_ms() != 0 && !urgent_with_timer.count(sequence)) {
        Violation("urgent: message ", sequence, " waits for a reminder at ", r.next_due_ms(),
                  " that no timer will fire");
      }
    }
    return absl::OkStatus();
  }

  store::Database& db_;
  store::AccountTable accounts_;
  store::AttachmentTable attachments_;
  CheckReport report_;
  std::map<std::string, store::TeamRecord> teams_;  // by raw id
  std::map<std::string, v1::Intake> intakes_;       // by raw id
  std::map<uint64_t, store::UrgentMessageRecord> urgent_;
  std::map<std::string, std::optional<bool>> devices_;
};

}  // namespace

absl::StatusOr<CheckReport> CheckConsistency(store::Database& db) { return Checker(db).Run(); }

}  // namespace carerelay::core
