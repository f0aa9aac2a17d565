#!/usr/bin/env bash
# The discharge scenario (issue 7): an elderly patient living alone leaves
# hospital, and her care team forms around her in carerelay. Plays the story
# against a running carerelayd with one CLI profile per person, prints what
# each person types and sees, and checks what each one received and what they
# could not read. Exits 1 at the first check that fails ("CHECK FAILED: ...").
#
#   deploy/discharge-scenario.sh [options]
#
#   --server HOST:PORT   carerelayd address (default localhost:7443)
#   --data-dir DIR       the server's data directory, for `carerelayd admin
#                        enroll` (default data/ under the checkout)
#   --ca-file FILE       the CA clients trust (default deploy/dev-tls/ca.crt)
#   --build-dir DIR      where carerelayd and carerelay were built (default
#                        build/ under the checkout)
#   --carerelayd PATH, --carerelay PATH
#                        the binaries, when not in DIR/server and DIR/client
#   --home DIR           the profiles' CARERELAY_HOME: must be absent or
#                        empty, and is kept afterwards so you can go on with
#                        the profiles (default: a temporary directory,
#                        removed at the end)
#
# Environment: CARERELAY_SERVER, CARERELAY_DATA_DIR, CARERELAY_CA_FILE,
# CARERELAY_BUILD_DIR stand for the options. CARERELAY_PASSPHRASE: the one the
# profiles' keys are encrypted under (default: one made up for the scenario).
#
# With the development server of the README running (bash
# deploy/run-dev-server.sh), from the checkout: bash deploy/discharge-scenario.sh
#
# Every run enrolls new accounts, makes a new team and a new organisation
# key, in a fresh profile home: runs do not see each other, so the script can
# be run again on the same server.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

server="${CARERELAY_SERVER:-localhost:7443}"
data_dir="${CARERELAY_DATA_DIR:-$repo/data}"
ca_file="${CARERELAY_CA_FILE:-$repo/deploy/dev-tls/ca.crt}"
build_dir="${CARERELAY_BUILD_DIR:-$repo/build}"
carerelayd=""
cli=""
home=""

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit "$1"
}
die() {
  echo "discharge-scenario: $*" >&2
  exit 1
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server | --data-dir | --ca-file | --build-dir | --carerelayd | --carerelay | --home)
      [[ $# -ge 2 ]] || die "$1 needs a value (see --help)"
      case "$1" in
        --server) server="$2" ;;
        --data-dir) data_dir="$2" ;;
        --ca-file) ca_file="$2" ;;
        --build-dir) build_dir="$2" ;;
        --carerelayd) carerelayd="$2" ;;
        --carerelay) cli="$2" ;;
        --home) home="$2" ;;
      esac
      shift 2
      ;;
    -h | --help) usage 0 ;;
    *) echo "discharge-scenario: unknown option $1" >&2; usage 2 ;;
  esac
done
carerelayd="${carerelayd:-$build_dir/server/carerelayd}"
cli="${cli:-$build_dir/client/carerelay}"
[[ -x "$carerelayd" ]] || die "no carerelayd at $carerelayd: build it (bash deploy/build.sh) or give --build-dir"
[[ -x "$cli" ]] || die "no carerelay CLI at $cli: build it (bash deploy/build.sh) or give --build-dir"
[[ -d "$data_dir" ]] || die "no server data directory at $data_dir: give the --data-dir of the running carerelayd"
[[ -r "$ca_file" ]] || die "cannot read the CA file $ca_file: give --ca-file (the server's CA)"
command -v openssl >/dev/null || die "openssl is needed to make the organisation key"
# Absolute paths: the people's commands run in their working folder.
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
carerelayd="$(absolute "$carerelayd")" cli="$(absolute "$cli")"
data_dir="$(absolute "$data_dir")" ca_file="$(absolute "$ca_file")"

# A fresh profile home each run: profiles left by an earlier run would hold
# other accounts under the same names.
if [[ -z "$home" ]]; then
  home="$(mktemp -d "${TMPDIR:-/tmp}/carerelay-discharge.XXXXXX")"
  trap 'rm -rf "$home"' EXIT
else
  if [[ -e "$home" && -n "$(ls -A "$home" 2>/dev/null)" ]]; then
    die "--home $home is not empty: give a new directory (each run needs fresh profiles)"
  fi
  mkdir -p "$home"
  home="$(cd "$home" && pwd)"
fi
chmod 700 "$home"
work="$home/files"  # where the commands run: the documents people write and fetch
mkdir -p "$work"

export CARERELAY_HOME="$home"
export CARERELAY_PASSPHRASE="${CARERELAY_PASSPHRASE:-Jeanne goes home on Tuesday}"
unset CARERELAY_PROFILE  # every command names its person

# ---------------------------------------------------------------------------
# How each person's commands are shown and checked.

# The people: profile -> name as enrolled, and account kind.
declare -A NAME=(
  [liaison]="Claire Lambert (hospital liaison nurse)"
  [daughter]="Marie Dubois (daughter)"
  [gp]="Dr. Luc Martin (GP)"
  [nurse]="Anne Peeters (home nurse)"
  [pharmacist]="Pierre Leroy (pharmacist)"
  [physio]="Koen Maes (physiotherapist)"
  [social]="Sarah Claes (social worker)"
  [helpdesk]="Tom Janssens (helpdesk)"
)
declare -A KIND=(
  [liaison]=professional [daughter]=caregiver [gp]=professional [nurse]=professional
  [pharmacist]=professional [physio]=professional [social]=social [helpdesk]=helpdesk
)
declare -A ACCOUNT=()

step_no=0
step() {
  step_no=$((step_no + 1))
  printf '\n==== %d. %s\n' "$step_no" "$*"
}
say() { printf '%s\n' "$*" | fold -s -w 78; }

# A command as the person would type it (quoted where needed).
show_command() {
  local profile="$1" a line="carerelay"
  shift
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then line+=" $a"; else line+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '\n[%s] $ %s\n' "$profile" "$line"
}
indent() { sed 's/^/    /'; }

# Runs `carerelay --profile PROFILE ARGS...` in the working folder; its
# stdout in $out, stderr in $err, exit code in $rc. Never exits.
run_cli() {
  local profile="$1"
  shift
  local errfile="$home/.stderr"
  out="$(cd "$work" && "$cli" --profile "$profile" "$@" 2>"$errfile")" && rc=0 || rc=$?
  err="$(cat "$errfile")"
  seen="$out"$'\n'"$err"  # what the person saw, for the checks
}

check_failed() {
  printf '\nCHECK FAILED: %s\n' "$1" >&2
  [[ -n "${2:-}" ]] && printf '%s\n' "$2" | indent >&2
  exit 1
}

# PROFILE ARGS...: what the person types and sees; it must succeed.
as() {
  local profile="$1"
  show_command "$@"
  run_cli "$@"
  [[ -n "$out" ]] && printf '%s\n' "$out" | indent
  [[ -n "$err" ]] && printf '%s\n' "$err" | indent
  [[ $rc -eq 0 ]] || check_failed "${NAME[$profile]}: \`carerelay ${*:2}\` failed (exit $rc)"
  return 0
}

# PROFILE ARGS...: something the person may not do; carerelay must refuse it
# with exit 1 (the operation failed), not succeed nor misread the command.
refused() {
  local profile="$1"
  show_command "$@"
  run_cli "$@"
  [[ -n "$out" ]] && printf '%s\n' "$out" | indent
  [[ -n "$err" ]] && printf '%s\n' "$err" | indent
  [[ $rc -eq 1 ]] || check_failed "${NAME[$profile]}: \`carerelay ${*:2}\` should be refused (exit 1), got exit $rc" "$seen"
  echo "    -> refused, as it should be"
}

# PROFILE KEY ARGS...: runs ARGS with --json and puts the value of KEY (from
# the first line that has it) in $value; prints it as the script's own note.
capture() {
  local profile="$1" key="$2"
  shift 2
  show_command "$profile" --json "$@"
  run_cli "$profile" --json "$@"
  [[ $rc -eq 0 ]] || check_failed "${NAME[$profile]}: \`carerelay --json $*\` failed (exit $rc)" "$seen"
  value="$(printf '%s\n' "$out" | sed -n "s/.*\"$key\":\"\\([^\"]*\\)\".*/\\1/p" | head -1)"
  [[ -n "$value" ]] || check_failed "no \"$key\" in the output of \`carerelay $*\`" "$seen"
  echo "    ($key: $value)"
}

# WHAT TEXT: the last output shows TEXT.
sees() {
  grep -qF -- "$2" <<<"$seen" || check_failed "$1: expected to see \"$2\"" "$seen"
  echo "    ok: $1"
}
# WHAT TEXT: the last output does not show TEXT.
does_not_see() {
  if grep -qF -- "$2" <<<"$seen"; then check_failed "$1: \"$2\" should not be there" "$seen"; fi
  echo "    ok: $1"
}

enroll() {
  local profile="$1" code
  code="$("$carerelayd" admin enroll --data-dir "$data_dir" --name "${NAME[$profile]}" \
    --kind "${KIND[$profile]}" 2>"$home/.stderr")" ||
    check_failed "could not enroll ${NAME[$profile]} (is carerelayd running on $data_dir?)" "$(cat "$home/.stderr")"
  printf '%s' "$code"
}

# Enrolls PROFILE's person (the administrator's part) and registers their device.
join_carerelay() {
  local profile="$1" code
  code="$(enroll "$profile")"
  as "$profile" register --server "$server" --ca-file "$ca_file" --code "$code" \
    --device-name "${profile} laptop"
  run_cli "$profile" --json whoami
  ACCOUNT[$profile]="$(sed -n 's/.*"account_id":"\([0-9a-f]*\)".*/\1/p' <<<"$out")"
  [[ -n "${ACCOUNT[$profile]}" ]] || check_failed "no account id for $profile" "$seen"
}

# ---------------------------------------------------------------------------
# The story.

PATIENT="Jeanne Dubois"
NISS="41.03.02-123.20"           # her Belgian national number, as on her eID card
NISS_SPOKEN="41 03 02 123 20"    # as her daughter reads it out on the phone
MEDICATION="Medication at discharge: bisoprolol 2.5 mg 1x/day; furosemide 40 mg mornings; apixaban 2.5 mg 2x/day; amlodipine STOPPED"
CARE_NOTE="Home help starts Monday 9:00; meals on wheels requested from Tuesday"
TEAM_NOTE="Welcome home, Mme Dubois: the nurse comes tomorrow at 8:30"

cat <<EOF
The discharge scenario: $PATIENT, 85, lives alone and leaves the cardiology
ward today. Server $server; profiles in $home (one per person).
Every message and document below is end-to-end encrypted: the server relays
ciphertext and enforces who may read which channel.
EOF

step "Everyone gets an account and registers a device"
say "The administrator issues single-use enrollment codes (carerelayd admin enroll); each person registers with theirs. The patient has no account."
for p in liaison daughter gp nurse pharmacist physio social helpdesk; do
  join_carerelay "$p"
done
DAUGHTER="${ACCOUNT[daughter]}" GP="${ACCOUNT[gp]}"
NURSE="${ACCOUNT[nurse]}" PHARMACIST="${ACCOUNT[pharmacist]}" PHYSIO="${ACCOUNT[physio]}"
SOCIAL="${ACCOUNT[social]}"

step "The hospital liaison nurse creates the team and records the patient's consent"
say "Mme Dubois signed the consent form on the ward; it is filed under DISCHARGE-2291 (a reference, never a name). The team profile says who the patient is, end-to-end encrypted."
capture liaison team_id team create
TEAM="$value"
as liaison team consent "$TEAM" --record --by patient --method written --reference DISCHARGE-2291
sees "the consent is recorded with its reference" "reference DISCHARGE-2291"
as liaison team profile "$TEAM" --set --name "$PATIENT" --birth-date 1941-03-02 \
  --national-number "$NISS" --gp "${NAME[gp]}" --address "Rue des Tilleuls 12, 1050 Ixelles" \
  --notes "Lives alone, 2nd floor without lift; heart failure"

step "Her daughter joins as caregiver; the GP joins and is designated coordinator"
as liaison team invite "$TEAM" "$DAUGHTER" --role caregiver
as liaison team invite "$TEAM" "$GP" --role professional
as daughter team accept "$TEAM"
as gp team accept "$TEAM"
say "The liaison nurse's device sees them join and sends them the team profile."
as liaison receive
sees "the liaison nurse sees her daughter join" "${NAME[daughter]} joined the team"
# They read it before the handover: a device checks a team profile's sender
# against who is coordinator when it reads the message, not when it was sent,
# so a profile read after the handover is ignored ("unreadable message ...
# only the coordinator ... may set it"). A client issue left as it is here.
as daughter receive
sees "the daughter gets the team profile" "team profile updated by ${NAME[liaison]}"
as gp receive
sees "the GP gets the team profile" "team profile updated by ${NAME[liaison]}"
as liaison team coordinator "$TEAM" "$GP"
sees "the GP is coordinator" "is now the coordinator of team $TEAM"
as gp receive
sees "the GP is told he is coordinator" "${NAME[gp]} is now the coordinator"
as gp team profile "$TEAM"
sees "the GP's device holds the patient's name" "$PATIENT"

step "The GP invites the home nurse, the pharmacist, the physiotherapist and the social worker"
as gp team invite "$TEAM" "$NURSE" --role professional
as gp team invite "$TEAM" "$PHARMACIST" --role professional
as gp team invite "$TEAM" "$PHYSIO" --role professional
as gp team invite "$TEAM" "$SOCIAL" --role social
for p in nurse pharmacist physio social; do
  as "$p" team accept "$TEAM"
done
say "The coordinator's device sends each newcomer the team profile."
as gp receive
sees "the GP sees the social worker join" "${NAME[social]} joined the team"
as gp team members "$TEAM"
sees "the social worker reads #team and #care only" "reads #team #care; posts"
does_not_see "nobody is left waiting for an answer" "invited since"

step "The discharge letter and the medication list go on #clinical"
say "The liaison nurse shares the letter (a PDF, encrypted on her machine) and the medication list; the GP writes to the care professionals (#care) and to the family (#team)."
letter="discharge-letter-dubois.pdf"
printf '%%PDF-1.4\n%% Discharge letter, cardiology, CHU Saint-Pierre\n%% Patient: %s, born 1941-03-02\n%% Diagnosis: decompensated heart failure; discharged home %s\n%%%%EOF\n' \
  "$PATIENT" "$(date +%F)" >"$work/$letter"
as liaison send-file --team "$TEAM" --channel clinical "$letter" --caption "Discharge letter, cardiology"
as liaison send --team "$TEAM" --channel clinical "$MEDICATION"
as gp send --team "$TEAM" --channel care "$CARE_NOTE"
as gp send --team "$TEAM" --channel team "$TEAM_NOTE"

step "Who reads what: the home nurse, the pharmacist, the physiotherapist"
as nurse receive
sees "the home nurse gets the discharge letter" "[document] discharge-letter-dubois.pdf"
sees "the home nurse gets the medication list" "$MEDICATION"
sees "the home nurse gets #care" "$CARE_NOTE"
sees "the home nurse gets #team" "$TEAM_NOTE"
sees "the home nurse's device names the patient" "($PATIENT)"
capture nurse attachment_id files --team "$TEAM"
DOC="$value"
mkdir -p "$work/nurse-inbox"
as nurse get-file "$DOC" --out nurse-inbox
cmp -s "$work/$letter" "$work/nurse-inbox/$letter" ||
  check_failed "the letter the home nurse fetched differs from the one sent"
echo "    ok: the home nurse's copy of the letter is the liaison nurse's, byte for byte"
as pharmacist receive
sees "the pharmacist gets the medication list" "$MEDICATION"
sees "the pharmacist gets the discharge letter" "[document] discharge-letter-dubois.pdf"
as physio receive
sees "the physiotherapist gets the medication list" "$MEDICATION"

step "The social worker reads #care and #team, not #clinical"
as social receive
sees "the social worker gets #care" "$CARE_NOTE"
sees "the social worker gets #team" "$TEAM_NOTE"
sees "the social worker gets the team profile from the coordinator" "team profile updated by ${NAME[gp]}"
does_not_see "no medication list for the social worker" "bisoprolol"
does_not_see "no discharge letter for the social worker" "discharge-letter-dubois.pdf"
say "Even with the letter's id in hand she cannot open it: its key travels only in the message to #clinical, which never reached her. Nor may she post on #clinical."
mkdir -p "$work/social-inbox"
refused social get-file "$DOC" --out social-inbox
sees "she never got the letter's key" "has received no document $DOC"
[[ -z "$(ls -A "$work/social-inbox")" ]] || check_failed "the refused download left a file in the social worker's folder"
refused social send --team "$TEAM" --channel clinical "May I see the lab results?"

step "The daughter reads #team only, and who her mother is to the team"
as daughter receive
sees "the daughter gets the GP's word to the family" "$TEAM_NOTE"
does_not_see "no medication list for the daughter" "bisoprolol"
does_not_see "no #care note for the daughter" "meals on wheels"
does_not_see "no discharge letter for the daughter" "discharge-letter-dubois.pdf"
as daughter team profile "$TEAM"
sees "the daughter's device holds her mother's profile" "$PATIENT"

step "The GP lets the helpdesk find the team by the blind index"
say "The organisation's security officer hands out the organisation key with the devices (here a made-up one, mode 0600). The GP registers the team's blind index: a keyed hash of the national number; the server never sees the number nor the key."
(umask 077 && echo "2026-1 $(openssl rand -hex 32)" >"$CARERELAY_HOME/organisation.key")
as gp team index "$TEAM"
sees "the index is registered" "registered the search index of team $TEAM"

step "The daughter calls the helpdesk; it finds the team and routes an intake to the GP"
# No --helpdesk-account in the server's configuration is needed: an intake's
# notes always go to the staff member who opened it, and then to whoever it
# is routed to. That option adds staff who get every intake's notes and the
# escalations of unanswered urgent messages (after 20 minutes, longer than
# this scenario lasts).
say "Marie Dubois: \"My mother came home yesterday; she is dizzy when she stands up. Her national number is $NISS_SPOKEN.\""
as helpdesk team find --national-number "$NISS_SPOKEN"
sees "the helpdesk finds this team" "team $TEAM"
sees "the helpdesk sees who coordinates it" "coordinator: ${NAME[gp]}"
capture helpdesk intake_id intake open --caller caregiver --urgency high \
  --category hospital-discharge --team "$TEAM" \
  --notes "Daughter: mother dizzy on standing since discharge yesterday"
INTAKE="$value"
as helpdesk intake route "$INTAKE" --coordinator \
  --notes "Daughter reports dizziness on standing since discharge; please call her back"
sees "the intake goes to the GP" "with ${NAME[gp]}"
as gp receive
sees "the GP is alerted" "is routed to you"
sees "the GP reads the helpdesk's notes" "dizziness on standing"
as gp intake accept "$INTAKE"
as gp send --team "$TEAM" --channel team "Marie, I called you back: I will see your mother this afternoon"
as gp intake resolve "$INTAKE"
as helpdesk intake show "$INTAKE"
sees "the helpdesk sees it resolved" "resolved"
sees "the helpdesk sees the GP accepted it" "accepted by ${GP:0:8}"

step "An urgent message about blood pressure, acknowledged from the GP's phone"
say "The GP adds his phone as a second device (a link code from his laptop)."
capture gp code device link
LINK="$value"
NAME[gp-phone]="${NAME[gp]}, phone"
as gp-phone register --server "$server" --ca-file "$ca_file" --code "$LINK" --device-name "gp phone"
sees "the phone is the GP's account" "account $GP"
say "The home nurse, at the patient's home, sends an URGENT message on #clinical: every reader must acknowledge it."
capture nurse urgent_message_id send --urgent --team "$TEAM" --channel clinical \
  "BP 88/52 standing, 118/70 lying, dizzy: hold furosemide today? Please call me"
URGENT="$value"
as gp-phone receive
sees "the GP's phone shows the urgent message" "URGENT ${NAME[nurse]}"
sees "with what the nurse wrote" "BP 88/52 standing"
as gp-phone ack "$URGENT"
sees "the acknowledgement is recorded" "acknowledged; the sender is told"
as nurse acks "$URGENT"
sees "the nurse sees the GP acknowledged" "[x] ${NAME[gp]}"
does_not_see "the nurse is not acknowledged as a recipient of her own message" "${NAME[nurse]} ("

step "The physiotherapist is removed; what is sent afterwards is not his to read"
as gp team remove "$TEAM" "$PHYSIO"
as gp send --team "$TEAM" --channel clinical "Physiotherapy stops; the home nurse takes over the walking exercises"
as nurse receive
sees "the home nurse gets the message sent after the removal" "the home nurse takes over the walking exercises"
as physio receive
sees "the physiotherapist is told he was removed" "removed ${NAME[physio]} from the team"
does_not_see "the removed physiotherapist does not get it" "walking exercises"
does_not_see "the urgent message still waiting for him was deleted at his removal" "BP 88/52"
refused physio send --team "$TEAM" --channel clinical "Can I still post here?"
say "His device forgot the team's keys and documents when it was told of the removal: the letter he received earlier is no longer his to fetch."
mkdir -p "$work/physio-inbox"
refused physio get-file "$DOC" --out physio-inbox

step "The audit log is read and verified"
as gp team audit "$TEAM"
sees "consent is in the log" "recorded the patient's consent"
sees "the coordinator designation is in the log" "${NAME[gp]} is now the coordinator"
sees "the helpdesk's lookup is in the log" "found the team by the patient's national number"
sees "the document download is in the log" "downloaded a document from #clinical"
sees "the physiotherapist's removal is in the log" "removed ${NAME[physio]}"
as gp team audit "$TEAM" --verify
sees "the GP's device finds the chain intact" "audit log intact"
say "The patient's side checks it too, from the daughter's device."
as daughter team audit "$TEAM" --verify
sees "the daughter's device finds the chain intact" "audit log intact"

printf '\n==== The discharge scenario passed: every person saw what they should, and nothing more.\n'
