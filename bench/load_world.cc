#include "bench/load_world.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_devices.h"

namespace carerelay::bench {
namespace {

// Codes outlive a long setup on a busy machine.
constexpr absl::Duration kCodeTtl = absl::Hours(2);

// Runs fn(i) for i in [0, n) on `threads` threads; the first error wins and
// stops the others from taking more work.
absl::Status ParallelFor(int n, int threads, const std::function<absl::Status(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  absl::Status first;
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        absl::Status s = fn(i);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first.ok()) first = s;
          next = n;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return first;
}

absl::StatusOr<client::DeviceCredentials> RegisterOne(const client::ConnectionOptions& connection,
                                                      const std::string& admin_address,
                                                      const v1::RegisterRequest& tmpl,
                                                      const std::string& name) {
  auto code = IssueEnrollmentCodeOverSocket(admin_address, name, kCodeTtl);
  if (!code.ok()) return code.status();
  return RegisterWithCode(connection, tmpl, *code);
}

// Fills in every device's post: one envelope per other device of its team.
void PlanPosts(const WorldSpec& spec, World* w) {
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < w->devices.size(); ++i) {
    v1::SendRequest r;
    std::vector<int> recipients;
    r.set_team_id(w->team_ids[w->team_of[i]]);
    r.set_channel(v1::CHANNEL_TEAM);
    for (size_t j = 0; j < w->devices.size(); ++j) {
      if (j == i || w->team_of[j] != w->team_of[i]) continue;
      auto* e = r.add_envelopes();
      e->set_account_id(w->devices[j].account_id);
      e->set_device_id(w->devices[j].device_id);
      e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
      // Opaque filler, as the relay sees ciphertext; the first 16 bytes
      // become the send time.
      std::string content(std::max<size_t>(spec.envelope_bytes, 16), '\0');
      for (char& c : content) c = static_cast<char>(rng());
      e->set_content(std::move(content));
      recipients.push_back(static_cast<int>(j));
    }
    w->plan.sends.push_back(std::move(r));
    w->plan.recipients.push_back(std::move(recipients));
  }
}

v1::RecordConsentRequest Consent(const std::string& team) {
  v1::RecordConsentRequest r;
  r.set_team_id(team);
  r.set_given_by(v1::CONSENT_GIVER_PATIENT);
  r.set_method(v1::CONSENT_METHOD_WRITTEN);
  r.set_reference("bench");
  return r;
}

}  // namespace

World SyntheticWorld(const WorldSpec& spec) {
  World w;
  std::mt19937_64 rng(7);
  auto hex = [&] { return absl::StrFormat("%016x%016x", rng(), rng()); };
  for (int t = 0; t < spec.teams; ++t) {
    w.team_ids.push_back(hex());
    for (int m = 0; m < spec.members; ++m) {
      const std::string account = hex();
      for (int d = 0; d < spec.devices; ++d) {
        w.devices.push_back({account, static_cast<uint32_t>(d + 1), "bench"});
        w.team_of.push_back(t);
      }
    }
  }
  PlanPosts(spec, &w);
  return w;
}

absl::StatusOr<std::vector<client::DeviceCredentials>> RegisterAccounts(
    const client::ConnectionOptions& connection, const std::string& admin_address,
    const v1::RegisterRequest& tmpl, int count, int threads, const std::string& prefix) {
  std::vector<client::DeviceCredentials> out(count);
  absl::Status st = ParallelFor(count, threads, [&](int i) -> absl::Status {
    auto d = RegisterOne(connection, admin_address, tmpl, absl::StrCat(prefix, " ", i));
    if (!d.ok()) return d.status();
    out[i] = *d;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<World> BuildWorld(const client::ConnectionOptions& connection,
                                 const std::string& admin_address, const WorldSpec& spec,
                                 const v1::RegisterRequest& tmpl) {
  const auto start = std::chrono::steady_clock::now();
  World w;
  // [team][member][device]
  std::vector<std::vector<std::vector<client::DeviceCredentials>>> tree(
      spec.teams, std::vector<std::vector<client::DeviceCredentials>>(spec.members));
  absl::Status st =
      ParallelFor(spec.teams * spec.members, spec.setup_threads, [&](int i) -> absl::Status {
        const int team = i / spec.members, member = i % spec.members;
        auto first = RegisterOne(connection, admin_address, tmpl,
                                 absl::StrCat("Bench T", team, " M", member));
        if (!first.ok()) return first.status();
        tree[team][member].push_back(*first);
        for (int d = 1; d < spec.devices; ++d) {
          auto link = IssueLinkCode(connection, *first, spec.identity_profile_dir);
          if (!link.ok()) return link.status();
          auto more = RegisterWithCode(connection, tmpl, *link);
          if (!more.ok()) return more.status();
          tree[team][member].push_back(*more);
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  w.team_ids.resize(spec.teams);
  std::vector<v1::Team> teams(spec.teams);
  st = ParallelFor(spec.teams, spec.setup_threads, [&](int t) -> absl::Status {
    auto client_of = [&](int member) {
      auto c = client::RelayClient::Create(connection);
      if (c.ok()) (*c)->SetCredentials(tree[t][member][0]);
      return c;
    };
    auto coordinator = client_of(0);
    if (!coordinator.ok()) return coordinator.status();
    auto team = (*coordinator)->CreateTeam(v1::ROLE_COORDINATOR);
    if (!team.ok()) return team.status();
    const std::string id = team->team_id();
    auto consent = (*coordinator)->RecordConsent(Consent(id));
    if (!consent.ok()) return consent.status();
    for (int m = 1; m < spec.members; ++m) {
      auto invited = (*coordinator)->Invite(id, tree[t][m][0].account_id, v1::ROLE_PROFESSIONAL);
      if (!invited.ok()) return invited.status();
      auto member = client_of(m);
      if (!member.ok()) return member.status();
      auto joined = (*member)->RespondToInvitation(id, true);
      if (!joined.ok()) return joined.status();
    }
    auto got = (*coordinator)->GetTeam(id);
    if (!got.ok()) return got.status();
    teams[t] = *got;
    w.team_ids[t] = id;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  absl::flat_hash_map<std::string, int> index;
  for (int t = 0; t < spec.teams; ++t) {
    for (const auto& member : tree[t]) {
      for (const auto& d : member) {
        index[absl::StrCat(d.account_id, ".", d.device_id)] = static_cast<int>(w.devices.size());
        w.devices.push_back(d);
        w.team_of.push_back(t);
      }
    }
  }
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < w.devices.size(); ++i) {
    const auto& sender = w.devices[i];
    v1::SendRequest r;
    std::vector<int> recipients;
    r.set_team_id(w.team_ids[w.team_of[i]]);
    r.set_channel(v1::CHANNEL_TEAM);
    for (const auto& m : teams[w.team_of[i]].members()) {
      if (m.status() != v1::MEMBER_STATUS_ACTIVE) continue;
      if (std::find(m.can_read().begin(), m.can_read().end(), v1::CHANNEL_TEAM) ==
          m.can_read().end()) {
        continue;
      }
      for (const auto& dev : m.devices()) {
        if (m.account_id() == sender.account_id && dev.device_id() == sender.device_id) continue;
        auto it = index.find(absl::StrCat(m.account_id(), ".", dev.device_id()));
        if (it == index.end()) {
          return absl::InternalError(absl::StrCat("GetTeam lists device ", m.account_id(), ".",
                                                  dev.device_id(), " the bench did not register"));
        }
        auto* e = r.add_envelopes();
        e->set_account_id(m.account_id());
        e->set_device_id(dev.device_id());
        e->set_registration_id(dev.registration_id());
        e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
        // Opaque filler, as the relay sees ciphertext; the first 16 bytes
        // become the send time.
        std::string content(std::max<size_t>(spec.envelope_bytes, 16), '\0');
        for (char& c : content) c = static_cast<char>(rng());
        e->set_content(std::move(content));
        recipients.push_back(it->second);
      }
    }
    w.plan.sends.push_back(std::move(r));
    w.plan.recipients.push_back(std::move(recipients));
  }
  w.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return w;
}

}  // namespace carerelay::bench
