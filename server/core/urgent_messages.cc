#include "server/core/urgent_messages.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/core/acting_member.h"
#include "server/core/alerts.h"
#include "server/core/envelope_id.h"
#include "server/store/encoding.h"

namespace carerelay::core {
namespace {

std::string Target(uint64_t sequence) {
  std::string target;
  store::AppendBigEndian64(&target, sequence);
  return target;
}

std::string Hex(absl::string_view raw) {
  auto id = store::AccountId::FromBytes(raw);
  return id.ok() ? id->Hex() : "";
}

store::AccountId Id(absl::string_view raw) {
  auto id = store::AccountId::FromBytes(raw);
  return id.ok() ? *id : store::AccountId();
}

// Whether the team message `record` still concerns `raw` (an account id):
// on a team, only while they are an active member and, given `matrix`, may
// still read the message's channel. Someone removed from the team, or who
// lost the channel (a role change, a narrowing: the message was dropped from
// their queues), is cut off from its urgent messages as from the rest.
// `team` is null when the team is gone (erased): then nobody is.
bool StillConcerns(const store::UrgentMessageRecord& record, const store::TeamRecord* team,
                   absl::string_view raw, const AccessMatrix* matrix) {
  if (record.team_id().empty()) return true;
  if (!team) return false;
  for (const auto& m : team->members()) {
    if (m.account_id() != raw) continue;
    if (m.status() != v1::MEMBER_STATUS_ACTIVE) return false;
    if (!matrix) return true;
    return matrix->ForMember(*team, m, static_cast<v1::Channel>(record.channel())).read;
  }
  return false;
}

}  // namespace

absl::StatusOr<UrgentMessages::Locked> UrgentMessages::Lock(store::Transaction& txn,
                                                            uint64_t sequence) {
  absl::StatusOr<store::UrgentMessageRecord> seen = table_->Get(sequence);
  if (!seen.ok()) return seen.status();
  Locked locked;
  if (!seen->team_id().empty()) {
    auto team_id = store::TeamId::FromBytes(seen->team_id());
    if (!team_id.ok()) return team_id.status();
    auto team = teams_->GetForUpdate(txn, *team_id);
    if (team.ok()) {
      locked.team = *std::move(team);
    } else if (!absl::IsNotFound(team.status())) {
      return team.status();
    }
  }
  absl::StatusOr<store::UrgentMessageRecord> record = table_->GetForUpdate(txn, sequence);
  if (!record.ok()) return record.status();
  locked.record = *std::move(record);
  return locked;
}

std::optional<store::AccountId> CoordinatorOf(const store::TeamRecord& team) {
  for (const auto& m : team.members()) {
    // A patient or caregiver who coordinates is escalated to as well: the
    // escalation names the message, never its content, and they are the
    // one who organises the team's answer.
    if ((m.role() == v1::ROLE_COORDINATOR || m.coordinates()) &&
        m.status() == v1::MEMBER_STATUS_ACTIVE) {
      auto id = store::AccountId::FromBytes(m.account_id());
      if (id.ok()) return *id;
    }
  }
  return std::nullopt;
}

UrgentMessages::UrgentMessages(store::Database* db, store::UrgentTable* table,
                               store::TimerTable* timers, store::TeamTable* teams, AuditLog* audit,
                               const AccessMatrix* matrix, const AccountRegistry* accounts,
                               const ProfessionalDirectory* directory, DeliveryHub* hub,
                               store::QueueTable* queues, const Clock* clock, const Limits& limits,
                               const HelpdeskPolicy& policy)
    : db_(db),
      table_(table),
      timers_(timers),
      teams_(teams),
      audit_(audit),
      matrix_(matrix),
      accounts_(accounts),
      directory_(directory),
      hub_(hub),
      queues_(queues),
      clock_(clock),
      limits_(limits),
      policy_(policy) {}

absl::Status UrgentMessages::ScheduleNext(store::Transaction& txn,
                                          store::UrgentMessageRecord& record, int64_t now_ms) {
  const int64_t interval = absl::ToInt64Milliseconds(policy_.urgent_reminder_interval);
  const int64_t window_end =
      record.sent_at_ms() + absl::ToInt64Milliseconds(policy_.urgent_reminder_window);
  // The next multiple of the interval after now, capped at the window's end
  // (where the escalation fires).
  int64_t elapsed = std::max<int64_t>(0, now_ms - record.sent_at_ms());
  int64_t next = record.sent_at_ms() + (elapsed / interval + 1) * interval;
  next = std::min(next, window_end);
  record.set_next_due_ms(next);
  return timers_->Schedule(
      txn, {next, store::TimerKind::kUrgentReminder, Target(record.message_sequence())});
}

absl::StatusOr<std::string> UrgentMessages::Track(store::Transaction& txn,
                                                  const store::DeviceRef& sender,
                                                  const store::TeamId* team, v1::Channel channel,
                                                  const std::vector<store::AccountId>& recipients,
                                                  const std::vector<uint64_t>& envelope_sequences,
                                                  int64_t now_ms) {
  if (envelope_sequences.empty()) return absl::InvalidArgumentError("no envelope to track");
  store::UrgentMessageRecord record;
  record.set_message_sequence(envelope_sequences.front());
  record.set_sender_account_id(std::string(sender.account.Bytes()));
  record.set_sender_device_id(sender.device_id);
  if (team) record.set_team_id(std::string(team->Bytes()));
  record.set_channel(channel);
  record.set_sent_at_ms(now_ms);
  record.set_envelope_count(static_cast<uint32_t>(envelope_sequences.size()));
  // Staff on duty received it for their organisation: it is the recipient.
  std::vector<store::AccountId> people;
  std::optional<store::TeamRecord> on;
  // Staff on duty send for their organisation: it does not answer itself.
  std::optional<store::AccountId> sender_for;
  if (team) {
    auto read = teams_->Get(*team);
    if (!read.ok()) return read.status();
    on = *std::move(read);
    auto acting = OrganisationActedFor(*on, sender.account);
    if (!acting.ok()) return acting.status();
    sender_for = *acting;
  }
  for (const auto& account : recipients) {
    store::AccountId person = account;
    if (on) {
      auto org = OrganisationActedFor(*on, account);
      if (!org.ok()) return org.status();
      if (*org) person = **org;
    }
    if (person == sender.account || person == sender_for) continue;
    if (std::find(people.begin(), people.end(), person) == people.end()) people.push_back(person);
  }
  for (const auto& account : people) {
    store::UrgentRecipientRecord* r = record.add_recipients();
    r->set_account_id(std::string(account.Bytes()));
    auto substitute = directory_->SubstituteFor(account, now_ms);
    if (!substitute.ok()) return substitute.status();
    if (*substitute) r->set_substitute_account_id(std::string((*substitute)->Bytes()));
  }
  absl::Status s = absl::OkStatus();
  if (!people.empty()) s = ScheduleNext(txn, record, now_ms);
  if (s.ok()) s = table_->Put(txn, record);
  for (size_t i = 0; s.ok() && i < envelope_sequences.size(); ++i) {
    s = table_->PutEnvelope(txn, envelope_sequences[i], record.message_sequence());
  }
  if (!s.ok()) return s;
  return EnvelopeId(record.message_sequence());
}

absl::StatusOr<std::optional<store::AccountId>> UrgentMessages::OrganisationActedFor(
    const store::TeamRecord& team, const store::AccountId& account) const {
  absl::StatusOr<const store::TeamMemberRecord*> acting = ActingMember(team, *accounts_, account);
  if (!acting.ok()) return acting.status();
  if (*acting == nullptr || (*acting)->account_id() == account.Bytes()) return std::nullopt;
  return Id((*acting)->account_id());
}

absl::StatusOr<uint64_t> UrgentMessages::Resolve(store::Transaction& txn, absl::string_view id) {
  absl::StatusOr<uint64_t> sequence = ParseEnvelopeId(id);
  if (!sequence.ok()) return sequence.status();
  absl::StatusOr<uint64_t> message = table_->Resolve(txn, *sequence);
  if (absl::IsNotFound(message.status())) {
    return absl::NotFoundError(absl::StrCat("no urgent message ", id, " for you"));
  }
  return message;
}

absl::StatusOr<v1::AcknowledgeUrgentResponse> UrgentMessages::Acknowledge(
    const store::DeviceRef& caller, absl::string_view id) {
  auto txn = db_->Begin();
  absl::StatusOr<uint64_t> message = Resolve(*txn, id);
  if (!message.ok()) return message.status();
  absl::StatusOr<Locked> locked = Lock(*txn, *message);
  if (!locked.ok()) return locked.status();
  store::UrgentMessageRecord* record = &locked->record;
  const store::TeamRecord* on = locked->on();
  // The person's own entry first; else one they substitute for. An entry
  // whose person has left the team is no longer theirs to answer.
  store::UrgentRecipientRecord* entry = nullptr;
  for (auto& r : *record->mutable_recipients()) {
    if (r.account_id() == caller.account.Bytes() &&
        StillConcerns(*record, on, r.account_id(), matrix_)) {
      entry = &r;
    }
  }
  for (auto& r : *record->mutable_recipients()) {
    if (!entry && r.substitute_account_id() == caller.account.Bytes() &&
        StillConcerns(*record, on, r.account_id(), matrix_)) {
      entry = &r;
    }
  }
  if (!entry && on) {
    auto org = OrganisationActedFor(*on, caller.account);
    if (!org.ok()) return org.status();
    for (auto& r : *record->mutable_recipients()) {
      if (*org && r.account_id() == (*org)->Bytes() &&
          StillConcerns(*record, on, r.account_id(), matrix_)) {
        entry = &r;
      }
    }
  }
  if (!entry) return absl::NotFoundError(absl::StrCat("no urgent message ", id, " for you"));
  v1::AcknowledgeUrgentResponse response;
  response.set_message_id(EnvelopeId(*message));
  if (entry->acknowledged_at_ms() != 0) {
    response.set_acknowledged_at_ms(entry->acknowledged_at_ms());
    response.set_already_acknowledged(true);
    return response;
  }
  const int64_t now = clock_->NowMs();
  entry->set_acknowledged_at_ms(now);
  entry->set_acknowledged_by_account(std::string(caller.account.Bytes()));
  entry->set_acknowledged_by_device(caller.device_id);
  const std::string person = entry->account_id();

  bool everyone =
      std::all_of(record->recipients().begin(), record->recipients().end(), [&](const auto& r) {
        return r.acknowledged_at_ms() != 0 || !StillConcerns(*record, on, r.account_id(), matrix_);
      });
  absl::Status s = absl::OkStatus();
  if (everyone && record->next_due_ms() != 0) {
    s = timers_->Cancel(*txn, {record->next_due_ms(), store::TimerKind::kUrgentReminder,
                               Target(record->message_sequence())});
    record->set_next_due_ms(0);
  }
  ServerEnvelopes out(hub_, queues_, now, limits_);
  v1::Alert alert;
  alert.set_kind(v1::Alert::KIND_URGENT_ACKNOWLEDGED);
  alert.set_message_id(response.message_id());
  alert.set_team_id(Hex(record->team_id()));
  alert.set_subject_account_id(Hex(person));
  if (caller.account.Bytes() != person) alert.set_on_behalf_of_account_id(Hex(person));
  // A sender who has left the team is no longer told about it.
  if (s.ok() && StillConcerns(*record, on, record->sender_account_id(), nullptr)) {
    s = QueueAlert(*accounts_, out, Id(record->sender_account_id()), alert, now);
  }
  if (s.ok() && on && caller.account.Bytes() != person) {
    // Who answered for whom stays in the team's log (no content: the id).
    store::TeamRecord before = *on;
    store::TeamRecord& team = *locked->team;
    v1::TeamEvent event;
    event.set_kind(v1::TeamEvent::KIND_URGENT_ACKNOWLEDGED_FOR);
    event.set_team_id(Hex(team.team_id()));
    event.set_actor_account_id(caller.account.Hex());
    event.set_actor_device_id(caller.device_id);
    event.set_subject_account_id(Hex(person));
    event.set_channel(static_cast<v1::Channel>(record->channel()));
    event.set_at_ms(now);
    event.set_detail(response.message_id());
    absl::StatusOr<v1::AuditEntry> logged = audit_->Append(*txn, &team, event);
    s = logged.ok() ? teams_->Put(*txn, &before, team) : logged.status();
  }
  if (s.ok()) s = table_->Put(*txn, *record);
  if (s.ok()) s = out.Write(*txn);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  out.Publish();
  response.set_acknowledged_at_ms(now);
  return response;
}

absl::StatusOr<v1::UrgentMessageStatus> UrgentMessages::Status(const store::DeviceRef& caller,
                                                               absl::string_view id) {
  auto txn = db_->Begin();
  absl::StatusOr<uint64_t> message = Resolve(*txn, id);
  if (!message.ok()) return message.status();
  absl::StatusOr<store::UrgentMessageRecord> record = table_->Get(*message);
  if (!record.ok()) return record.status();
  bool allowed = record->sender_account_id() == caller.account.Bytes();
  if (!allowed && !record->team_id().empty()) {
    auto team_id = store::TeamId::FromBytes(record->team_id());
    auto team =
        team_id.ok() ? teams_->Get(*team_id) : absl::StatusOr<store::TeamRecord>(team_id.status());
    if (team.ok()) {
      auto coordinator = CoordinatorOf(*team);
      allowed = coordinator && *coordinator == caller.account;
    }
  }
  if (!allowed) return absl::NotFoundError(absl::StrCat("no urgent message ", id, " of yours"));
  auto name = [&](absl::string_view raw) {
    auto r = accounts_->GetAccount(Id(raw));
    return r.ok() ? r->display_name() : std::string();
  };
  v1::UrgentMessageStatus status;
  status.set_message_id(EnvelopeId(record->message_sequence()));
  status.mutable_sender()->set_account_id(Hex(record->sender_account_id()));
  status.mutable_sender()->set_device_id(record->sender_device_id());
  status.set_team_id(Hex(record->team_id()));
  status.set_channel(static_cast<v1::Channel>(record->channel()));
  status.set_sent_at_ms(record->sent_at_ms());
  status.set_escalated(record->escalated_at_ms() != 0);
  status.set_escalated_at_ms(record->escalated_at_ms());
  status.set_next_reminder_at_ms(record->next_due_ms());
  for (const auto& r : record->recipients()) {
    v1::RecipientAcknowledgement* a = status.add_recipients();
    a->set_account_id(Hex(r.account_id()));
    a->set_name(name(r.account_id()));
    a->set_acknowledged(r.acknowledged_at_ms() != 0);
    a->set_acknowledged_at_ms(r.acknowledged_at_ms());
    if (r.acknowledged_at_ms() != 0) {
      a->mutable_acknowledged_by()->set_account_id(Hex(r.acknowledged_by_account()));
      a->mutable_acknowledged_by()->set_device_id(r.acknowledged_by_device());
    }
    if (!r.substitute_account_id().empty()) {
      a->set_substitute_account_id(Hex(r.substitute_account_id()));
      a->set_substitute_name(name(r.substitute_account_id()));
    }
    a->set_reminders(r.reminders());
  }
  return status;
}

absl::StatusOr<uint64_t> UrgentMessages::DeleteExpired() {
  const int64_t cutoff = clock_->NowMs() - absl::ToInt64Milliseconds(limits_.queue_ttl);
  absl::StatusOr<std::vector<uint64_t>> old = table_->SentBefore(cutoff);
  if (!old.ok()) return old.status();
  uint64_t deleted = 0;
  for (uint64_t sequence : *old) {
    auto txn = db_->Begin(store::Durability::kBuffered);
    absl::StatusOr<store::UrgentMessageRecord> record = table_->GetForUpdate(*txn, sequence);
    if (absl::IsNotFound(record.status())) continue;
    if (!record.ok()) return record.status();
    absl::Status s = absl::OkStatus();
    if (record->next_due_ms() != 0) {
      s = timers_->Cancel(*txn, {record->next_due_ms(), store::TimerKind::kUrgentReminder,
                                 Target(record->message_sequence())});
    }
    if (s.ok()) s = table_->Delete(*txn, *record);
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) return s;
    ++deleted;
  }
  return deleted;
}

absl::Status UrgentMessages::OnReminderDue(store::Transaction& txn, const store::Timer& timer,
                                           int64_t now_ms, ServerEnvelopes& out) {
  if (timer.target.size() != 8) return absl::OkStatus();  // not ours to act on
  absl::StatusOr<Locked> locked = Lock(txn, store::ReadBigEndian64(timer.target, 0));
  if (absl::IsNotFound(locked.status())) return absl::OkStatus();
  if (!locked.ok()) return locked.status();
  store::UrgentMessageRecord* record = &locked->record;
  // A timer the record no longer waits for (superseded) does nothing.
  if (record->next_due_ms() != timer.due_ms || record->escalated_at_ms() != 0) {
    return absl::OkStatus();
  }
  const store::TeamRecord* on = locked->on();
  // Raw ids of who has not acknowledged and is still on the team: those
  // removed since are neither reminded nor chased.
  std::vector<std::string> waiting;
  for (const auto& r : record->recipients()) {
    if (r.acknowledged_at_ms() == 0 && StillConcerns(*record, on, r.account_id(), matrix_)) {
      waiting.push_back(r.account_id());
    }
  }
  record->set_next_due_ms(0);
  record->set_step(record->step() + 1);
  v1::Alert alert;
  alert.set_message_id(EnvelopeId(record->message_sequence()));
  alert.mutable_message_sender()->set_account_id(Hex(record->sender_account_id()));
  alert.mutable_message_sender()->set_device_id(record->sender_device_id());
  alert.set_team_id(Hex(record->team_id()));
  absl::Status s = absl::OkStatus();
  const int64_t window_end =
      record->sent_at_ms() + absl::ToInt64Milliseconds(policy_.urgent_reminder_window);
  if (waiting.empty()) {
    // Everyone answered between the snapshot and now: nothing to do.
  } else if (now_ms >= window_end) {
    alert.set_kind(v1::Alert::KIND_URGENT_ESCALATED);
    for (const auto& raw : waiting) alert.add_unacknowledged_account_ids(Hex(raw));
    std::vector<store::AccountId> to;
    auto add = [&](const store::AccountId& a) {
      if (std::find(to.begin(), to.end(), a) == to.end()) to.push_back(a);
    };
    if (on) {
      if (auto coordinator = CoordinatorOf(*on)) {
        add(*coordinator);
        auto substitute = directory_->SubstituteFor(*coordinator, now_ms);
        if (!substitute.ok()) return substitute.status();
        if (*substitute) add(**substitute);
      }
    }
    for (const auto& hex : policy_.helpdesk_accounts) {
      auto a = store::AccountId::FromHex(hex);
      if (a.ok()) add(*a);
    }
    // A sender who has left the team is no longer told about it.
    if (StillConcerns(*record, on, record->sender_account_id(), nullptr)) {
      add(Id(record->sender_account_id()));
    }
    for (const auto& a : to) {
      s = QueueAlert(*accounts_, out, a, alert, now_ms);
      if (!s.ok()) return s;
    }
    record->set_escalated_at_ms(now_ms);
  } else {
    alert.set_kind(v1::Alert::KIND_URGENT_REMINDER);
    for (auto& r : *record->mutable_recipients()) {
      if (r.acknowledged_at_ms() != 0 || !StillConcerns(*record, on, r.account_id(), matrix_))
        continue;
      r.set_reminders(r.reminders() + 1);
      alert.set_reminder(r.reminders());
      alert.clear_on_behalf_of_account_id();
      s = QueueAlert(*accounts_, out, Id(r.account_id()), alert, now_ms);
      if (!s.ok()) return s;
      if (!r.substitute_account_id().empty()) {
        alert.set_on_behalf_of_account_id(Hex(r.account_id()));
        s = QueueAlert(*accounts_, out, Id(r.substitute_account_id()), alert, now_ms);
        if (!s.ok()) return s;
      }
      // An organisation's staff on duty now, whoever was when it was sent.
      auto staff = accounts_->StaffOnDuty(Id(r.account_id()));
      if (!staff.ok() && !absl::IsNotFound(staff.status())) return staff.status();
      for (const store::AccountId& a : staff.ok() ? *staff : std::vector<store::AccountId>{}) {
        alert.set_on_behalf_of_account_id(Hex(r.account_id()));
        s = QueueAlert(*accounts_, out, a, alert, now_ms);
        if (!s.ok()) return s;
      }
    }
    s = ScheduleNext(txn, *record, now_ms);
    if (!s.ok()) return s;
  }
  return table_->Put(txn, *record);
}

}  // namespace carerelay::core
