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
#   --lang en|fr|nl|de   the language of the story: the script's narration,
#                        what the people write to each other, and every
#                        `carerelay` command (given --lang) (default en)
#
# Environment: CARERELAY_SERVER, CARERELAY_DATA_DIR, CARERELAY_CA_FILE,
# CARERELAY_BUILD_DIR, CARERELAY_SCENARIO_LANG stand for the options. CARERELAY_PASSPHRASE: the one the
# profiles' keys are encrypted under (default: one made up for the scenario).
#
# With the development server of the README running (bash
# deploy/run-dev-server.sh), from the checkout: bash deploy/discharge-scenario.sh
#
# Every run enrolls new accounts, makes a new team and a new organisation
# key, in a fresh profile home: runs do not see each other, so the script can
# be run again on the same server.
#
# The checks hold in every language: they look at --json output, or at what
# no translation changes (ids, names, what people wrote, file contents).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

server="${CARERELAY_SERVER:-localhost:7443}"
data_dir="${CARERELAY_DATA_DIR:-$repo/data}"
ca_file="${CARERELAY_CA_FILE:-$repo/deploy/dev-tls/ca.crt}"
build_dir="${CARERELAY_BUILD_DIR:-$repo/build}"
carerelayd=""
cli=""
home=""
lang="${CARERELAY_SCENARIO_LANG:-en}"

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
    --server | --data-dir | --ca-file | --build-dir | --carerelayd | --carerelay | --home | --lang)
      [[ $# -ge 2 ]] || die "$1 needs a value (see --help)"
      case "$1" in
        --server) server="$2" ;;
        --data-dir) data_dir="$2" ;;
        --ca-file) ca_file="$2" ;;
        --build-dir) build_dir="$2" ;;
        --carerelayd) carerelayd="$2" ;;
        --carerelay) cli="$2" ;;
        --home) home="$2" ;;
        --lang) lang="$2" ;;
      esac
      shift 2
      ;;
    -h | --help) usage 0 ;;
    *) echo "discharge-scenario: unknown option $1" >&2; usage 2 ;;
  esac
done
case "$lang" in
  en | fr | nl | de) ;;
  *) die "--lang $lang: the scenario speaks en, fr, nl and de" ;;
esac
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

# The script's own words in the scenario's language: t ENGLISH FRENCH DUTCH GERMAN.
t() {
  case "$lang" in
    fr) printf '%s' "$2" ;;
    nl) printf '%s' "$3" ;;
    de) printf '%s' "$4" ;;
    *) printf '%s' "$1" ;;
  esac
}

# The people: profile -> name as enrolled, account kind, and the function
# the administrator gives them besides (README, "Functions").
declare -A NAME=(
  [liaison]="Claire Lambert ($(t "hospital liaison nurse" "infirmière de liaison" "liaisonverpleegkundige" "Überleitungspflegekraft des Krankenhauses"))"
  [daughter]="Marie Dubois ($(t "daughter" "fille" "dochter" "Tochter"))"
  [gp]="Dr. Luc Martin ($(t "GP" "médecin généraliste" "huisarts" "Hausarzt"))"
  [nurse]="Anne Peeters ($(t "home nurse" "infirmière à domicile" "thuisverpleegkundige" "Hauskrankenpflegerin"))"
  [service]="$(t "Home Nursing Ixelles" "Soins à domicile Ixelles" "Thuisverpleging Elsene" "Hauskrankenpflege Ixelles")"
  [pharmacist]="Pierre Leroy ($(t "pharmacist" "pharmacien" "apotheker" "Apotheker"))"
  [physio]="Koen Maes ($(t "physiotherapist" "kinésithérapeute" "kinesitherapeut" "Physiotherapeut"))"
  [social]="Sarah Claes ($(t "social worker" "assistante sociale" "maatschappelijk werker" "Sozialarbeiterin"))"
  [helpdesk]="Tom Janssens (helpdesk)"
)
declare -A KIND=(
  [liaison]=professional [daughter]=caregiver [gp]=professional [nurse]=professional
  [service]=organisation [pharmacist]=professional [physio]=professional [social]=social
  [helpdesk]=staff
)
declare -A FUNCTION=([helpdesk]=helpdesk)
declare -A ACCOUNT=()

step_no=0
step() {
  step_no=$((step_no + 1))
  printf '\n==== %d. %s\n' "$step_no" "$*"
}
say() { printf '%s\n' "$*" | fold -s -w 78; }

# A command as the person would type it (quoted where needed). Their
# carerelay speaks the scenario's language: the script passes --lang, a
# person's locale (LANG=fr_BE.UTF-8, ...) does the same.
show_command() {
  local profile="$1" a line="carerelay"
  shift
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then line+=" $a"; else line+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '\n[%s] $ %s\n' "$profile" "$line"
}
indent() { sed 's/^/    /'; }

# Runs `carerelay --lang LANG --profile PROFILE ARGS...` in the working
# folder; its stdout in $out, stderr in $err, exit code in $rc. Never exits.
run_cli() {
  local profile="$1"
  shift
  local errfile="$home/.stderr"
  out="$(cd "$work" && "$cli" --lang "$lang" --profile "$profile" "$@" 2>"$errfile")" && rc=0 || rc=$?
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
  echo "    -> $(t "refused, as it should be" "refusé, comme il se doit" "geweigerd, zoals het hoort" "abgelehnt, wie es sein muss")"
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

# PROFILE ARGS...: runs ARGS with --json behind the scenes, for the checks
# that follow (the same in every language); not shown. Only for commands
# that change nothing (members, show, list, audit, ...).
probe() {
  local profile="$1"
  shift
  run_cli "$profile" --json "$@"
  [[ $rc -eq 0 ]] || check_failed "${NAME[$profile]}: \`carerelay --json $*\` failed (exit $rc)" "$seen"
}

# WHAT TEXT: the last output shows TEXT.
sees() {
  grep -qF -- "$2" <<<"$seen" || check_failed "$1: expected to see \"$2\"" "$seen"
  echo "    ok: $1"
}
# WHAT REGEX: the last output matches the extended regular expression
# (for --json lines, whose keys nlohmann::json writes in sorted order).
sees_match() {
  grep -qE -- "$2" <<<"$seen" || check_failed "$1: expected to match /$2/" "$seen"
  echo "    ok: $1"
}
# TEXT as an extended regular expression that matches it literally.
ere() { sed 's/[][\.*^$(){}+?|/]/\\&/g' <<<"$1"; }
# WHAT TEXT: the last output does not show TEXT.
does_not_see() {
  if grep -qF -- "$2" <<<"$seen"; then check_failed "$1: \"$2\" should not be there" "$seen"; fi
  echo "    ok: $1"
}

enroll() {
  local profile="$1" code function=()
  [[ -n "${FUNCTION[$profile]:-}" ]] && function=(--function "${FUNCTION[$profile]}")
  code="$("$carerelayd" admin enroll --data-dir "$data_dir" --name "${NAME[$profile]}" \
    --kind "${KIND[$profile]}" "${function[@]}" 2>"$home/.stderr")" ||
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
# The story. What people write to each other is in the scenario's language
# too; the checks look for these same strings.

PATIENT="Jeanne Dubois"
NISS="41.03.02-123.20"           # her Belgian national number, as on her eID card
NISS_SPOKEN="41 03 02 123 20"    # as her daughter reads it out on the phone
DRUG="bisoprolol"                # on the medication list, for #clinical only
MEDICATION="$(t "Medication at discharge: $DRUG 2.5 mg 1x/day; furosemide 40 mg mornings; apixaban 2.5 mg 2x/day; amlodipine STOPPED" \
  "Traitement de sortie : $DRUG 2,5 mg 1x/jour ; furosémide 40 mg le matin ; apixaban 2,5 mg 2x/jour ; amlodipine ARRÊTÉE" \
  "Medicatie bij ontslag: $DRUG 2,5 mg 1x/dag; furosemide 40 mg 's ochtends; apixaban 2,5 mg 2x/dag; amlodipine GESTOPT" \
  "Entlassungsmedikation: $DRUG 2,5 mg 1x täglich; Furosemid 40 mg morgens; Apixaban 2,5 mg 2x täglich; Amlodipin ABGESETZT")"
MEALS="$(t "meals on wheels" "repas à domicile" "warme maaltijden aan huis" "Essen auf Rädern")"
CARE_NOTE="$(t "Home help starts Monday 9:00; $MEALS requested from Tuesday" \
  "L'aide familiale commence lundi à 9 h ; $MEALS demandés à partir de mardi" \
  "De gezinshulp begint maandag om 9 uur; $MEALS aangevraagd vanaf dinsdag" \
  "Die Familienhilfe beginnt am Montag um 9 Uhr; $MEALS ist ab Dienstag beantragt")"
TEAM_NOTE="$(t "Welcome home, Mme Dubois: the nurse comes tomorrow at 8:30" \
  "Bon retour chez vous, Madame Dubois : l'infirmière passe demain à 8 h 30" \
  "Welkom thuis, mevrouw Dubois: de verpleegkundige komt morgen om 8.30 uur" \
  "Willkommen zu Hause, Frau Dubois: Die Krankenpflegerin kommt morgen um 8.30 Uhr")"
CAPTION="$(t "Discharge letter, cardiology" "Lettre de sortie, cardiologie" "Ontslagbrief, cardiologie" "Entlassungsbrief, Kardiologie")"
DIZZY="$(t "dizziness on standing" "vertiges en position debout" "duizelig bij het rechtstaan" "Schwindel beim Aufstehen")"
BP="88/52"                       # her blood pressure standing
URGENT_TEXT="$(t "BP $BP standing, 118/70 lying, dizzy: hold furosemide today? Please call me" \
  "TA $BP debout, 118/70 couchée, vertiges : suspendre le furosémide aujourd'hui ? Merci de m'appeler" \
  "Bloeddruk $BP staand, 118/70 liggend, duizelig: furosemide vandaag stoppen? Graag telefonisch contact" \
  "Blutdruck $BP im Stehen, 118/70 im Liegen, Schwindel: Furosemid heute aussetzen? Bitte rufen Sie mich an")"
WALKING="$(t "walking exercises" "exercices de marche" "wandeloefeningen" "Gehübungen")"
PHYSIO_STOPS="$(t "Physiotherapy stops; the home nurse takes over the $WALKING" \
  "La kinésithérapie s'arrête ; l'infirmière à domicile reprend les $WALKING" \
  "De kinesitherapie stopt; de thuisverpleegkundige neemt de $WALKING over" \
  "Die Physiotherapie endet; die Hauskrankenpflegerin übernimmt die $WALKING")"

t "The discharge scenario: $PATIENT, 85, lives alone and leaves the cardiology
ward today. Server $server; profiles in $home (one per person).
Every message and document below is end-to-end encrypted: the server relays
ciphertext and enforces who may read which channel." \
  "Le scénario de sortie d'hôpital : $PATIENT, 85 ans, vit seule et quitte
aujourd'hui le service de cardiologie. Serveur $server ; profils dans $home
(un par personne). Chaque message et document ci-dessous est chiffré de bout
en bout : le serveur relaie du texte chiffré et décide qui peut lire quel canal." \
  "Het ontslagscenario: $PATIENT, 85, woont alleen en verlaat vandaag de
afdeling cardiologie. Server $server; profielen in $home (één per persoon).
Elk bericht en document hieronder is end-to-end versleuteld: de server geeft
versleutelde tekst door en bepaalt wie welk kanaal mag lezen." \
  "Das Entlassungsszenario: $PATIENT, 85 Jahre, lebt allein und verlässt heute
die Kardiologie. Server $server; Profile in $home (eines pro Person).
Jede Nachricht und jedes Dokument im Folgenden ist Ende-zu-Ende-verschlüsselt:
Der Server leitet nur verschlüsselten Text weiter und bestimmt, wer welchen
Kanal lesen darf."
echo
[[ "$lang" == en ]] || t "" "(Chaque commande carerelay tourne avec --lang fr.)
" "(Elke carerelay-opdracht draait met --lang nl.)
" "(Jeder carerelay-Befehl läuft mit --lang de.)
"

step "$(t "Everyone gets an account and registers a device" \
  "Chacun reçoit un compte et enregistre un appareil" \
  "Iedereen krijgt een account en registreert een toestel" \
  "Alle erhalten ein Konto und registrieren ein Gerät")"
say "$(t "The administrator issues single-use enrollment codes (carerelayd admin enroll); each person registers with theirs. The patient has no account." \
  "L'administrateur délivre des codes d'inscription à usage unique (carerelayd admin enroll) ; chacun s'enregistre avec le sien. La patiente n'a pas de compte." \
  "De beheerder geeft eenmalige inschrijvingscodes uit (carerelayd admin enroll); iedereen registreert zich met de zijne. De patiënte heeft geen account." \
  "Der Administrator gibt Einschreibungscodes zur einmaligen Verwendung aus (carerelayd admin enroll); jede Person registriert sich mit ihrem Code. Die Patientin hat kein Konto.")"
for p in liaison daughter gp nurse service pharmacist physio social helpdesk; do
  join_carerelay "$p"
done
DAUGHTER="${ACCOUNT[daughter]}" GP="${ACCOUNT[gp]}"
NURSE="${ACCOUNT[nurse]}" SERVICE="${ACCOUNT[service]}" PHARMACIST="${ACCOUNT[pharmacist]}"
PHYSIO="${ACCOUNT[physio]}" SOCIAL="${ACCOUNT[social]}"

step "$(t "The hospital liaison nurse creates the team and records the patient's consent" \
  "L'infirmière de liaison crée l'équipe et enregistre le consentement de la patiente" \
  "De liaisonverpleegkundige maakt het team aan en registreert de toestemming van de patiënte" \
  "Die Überleitungspflegekraft des Krankenhauses erstellt das Team und erfasst die Einwilligung der Patientin")"
say "$(t "Mme Dubois signed the consent form on the ward; it is filed under DISCHARGE-2291 (a reference, never a name). The team profile says who the patient is, end-to-end encrypted." \
  "Mme Dubois a signé le formulaire de consentement dans le service ; il est classé sous DISCHARGE-2291 (une référence, jamais un nom). Le profil de l'équipe dit qui est la patiente, chiffré de bout en bout." \
  "Mevrouw Dubois ondertekende het toestemmingsformulier op de afdeling; het is geklasseerd onder DISCHARGE-2291 (een referentie, nooit een naam). Het teamprofiel zegt wie de patiënte is, end-to-end versleuteld." \
  "Frau Dubois hat die Einwilligungserklärung auf der Station unterschrieben; sie ist unter DISCHARGE-2291 abgelegt (eine Referenz, niemals ein Name). Das Teamprofil hält fest, wer die Patientin ist, Ende-zu-Ende-verschlüsselt.")"
capture liaison team_id team create
TEAM="$value"
as liaison team consent "$TEAM" --record --by patient --method written --reference DISCHARGE-2291
sees "$(t "the consent is recorded with its reference" "le consentement est enregistré avec sa référence" "de toestemming is geregistreerd met haar referentie" "die Einwilligung ist mit ihrer Referenz erfasst")" "DISCHARGE-2291"
as liaison team profile "$TEAM" --set --name "$PATIENT" --birth-date 1941-03-02 \
  --national-number "$NISS" --gp "${NAME[gp]}" --address "Rue des Tilleuls 12, 1050 Ixelles" \
  --notes "$(t "Lives alone, 2nd floor without lift; heart failure" \
    "Vit seule, 2e étage sans ascenseur ; insuffisance cardiaque" \
    "Woont alleen, 2e verdieping zonder lift; hartfalen" \
    "Lebt allein, 2. Etage ohne Aufzug; Herzinsuffizienz")"

step "$(t "Her daughter joins as caregiver; the GP joins and is designated coordinator" \
  "Sa fille rejoint l'équipe comme aidante proche ; le médecin généraliste la rejoint et est désigné coordinateur" \
  "Haar dochter komt erbij als mantelzorger; de huisarts komt erbij en wordt coördinator" \
  "Ihre Tochter kommt als pflegende Angehörige hinzu; der Hausarzt kommt hinzu und wird zum Koordinator bestimmt")"
as liaison team invite "$TEAM" "$DAUGHTER" --role caregiver
as liaison team invite "$TEAM" "$GP" --role professional
as daughter team accept "$TEAM"
as gp team accept "$TEAM"
say "$(t "The liaison nurse's device sees them join and sends them the team profile." \
  "L'appareil de l'infirmière de liaison les voit arriver et leur envoie le profil de l'équipe." \
  "Het toestel van de liaisonverpleegkundige ziet hen toetreden en stuurt hun het teamprofiel." \
  "Das Gerät der Überleitungspflegekraft sieht sie beitreten und sendet ihnen das Teamprofil.")"
as liaison receive
sees "$(t "the liaison nurse sees her daughter join" "l'infirmière de liaison voit arriver sa fille" "de liaisonverpleegkundige ziet de dochter toetreden" "die Überleitungspflegekraft sieht die Tochter beitreten")" "${NAME[daughter]}"
as daughter receive
sees "$(t "the daughter is told who sent the team profile" "la fille voit qui a envoyé le profil de l'équipe" "de dochter ziet wie het teamprofiel stuurde" "der Tochter wird angezeigt, wer das Teamprofil gesendet hat")" "${NAME[liaison]}"
probe daughter team profile "$TEAM"
sees "$(t "the daughter's device holds the team profile" "l'appareil de la fille détient le profil de l'équipe" "het toestel van de dochter bewaart het teamprofiel" "das Gerät der Tochter hat das Teamprofil gespeichert")" "\"patient_name\":\"$PATIENT\""
say "$(t "Her daughter agrees on the phone that the GP coordinates; the liaison nurse records her agreement (who, how, where it is written; never a name) as she hands over." \
  "Sa fille accepte au téléphone que le médecin généraliste coordonne ; l'infirmière de liaison enregistre son accord (qui, comment, où il est noté ; jamais un nom) en lui passant la main." \
  "Haar dochter gaat telefonisch akkoord dat de huisarts coördineert; de liaisonverpleegkundige registreert haar akkoord (wie, hoe, waar het genoteerd is; nooit een naam) bij de overdracht." \
  "Ihre Tochter ist am Telefon damit einverstanden, dass der Hausarzt koordiniert; die Überleitungspflegekraft erfasst bei der Übergabe ihre Zustimmung (wer, wie, wo sie festgehalten ist; niemals ein Name).")"
as liaison team coordinator "$TEAM" "$GP" --by representative --method oral --reference DISCHARGE-2291-GP
probe liaison team list
sees "$(t "the GP is coordinator" "le médecin généraliste est coordinateur" "de huisarts is coördinator" "der Hausarzt ist Koordinator")" "\"coordinator\":\"${NAME[gp]}\""
probe daughter team audit "$TEAM"
sees "$(t "the daughter finds her recorded agreement in the audit log" "la fille retrouve son accord enregistré dans le journal d'audit" "de dochter vindt haar geregistreerd akkoord in het auditlogboek" "die Tochter findet ihre erfasste Zustimmung im Audit-Protokoll")" "coordinator_agreement_recorded"
say "$(t "The GP reads his messages only now, after the handover: the profile the liaison nurse sent while she coordinated is still taken." \
  "Le médecin ne lit ses messages que maintenant, après la passation : le profil envoyé par l'infirmière de liaison quand elle coordonnait est toujours accepté." \
  "De huisarts leest zijn berichten pas nu, na de overdracht: het profiel dat de liaisonverpleegkundige stuurde toen zij coördineerde, wordt nog aanvaard." \
  "Der Hausarzt liest seine Nachrichten erst jetzt, nach der Übergabe: Das Profil, das die Überleitungspflegekraft gesendet hat, als sie noch koordinierte, wird weiterhin angenommen.")"
as gp receive
sees "$(t "the GP is told who sent the team profile" "le médecin voit qui a envoyé le profil de l'équipe" "de huisarts ziet wie het teamprofiel stuurde" "dem Hausarzt wird angezeigt, wer das Teamprofil gesendet hat")" "${NAME[liaison]}"
sees "$(t "the GP is told he is coordinator" "le médecin apprend qu'il est coordinateur" "de huisarts hoort dat hij coördinator is" "der Hausarzt erfährt, dass er Koordinator ist")" "${NAME[gp]}"
as gp team profile "$TEAM"
sees "$(t "the GP's device holds the patient's name" "l'appareil du médecin connaît le nom de la patiente" "het toestel van de huisarts kent de naam van de patiënte" "das Gerät des Hausarztes kennt den Namen der Patientin")" "$PATIENT"

step "$(t "The GP invites the home-nursing service, the pharmacist and the social worker" \
  "Le médecin généraliste invite le service de soins à domicile, le pharmacien et l'assistante sociale" \
  "De huisarts nodigt de thuisverpleegdienst, de apotheker en de maatschappelijk werker uit" \
  "Der Hausarzt lädt den Hauskrankenpflegedienst, den Apotheker und die Sozialarbeiterin ein")"
say "$(t "The home-nursing service works in shifts: it is on the team once, as an organisation, and its roster says which nurse is on duty. Nobody is re-invited when the shift changes." \
  "Le service de soins à domicile travaille par tournées : il est dans l'équipe une seule fois, comme organisation, et son planning dit quelle infirmière est de garde. Personne n'est réinvité quand l'équipe de garde change." \
  "De thuisverpleegdienst werkt in diensten: hij staat één keer in het team, als organisatie, en zijn rooster zegt welke verpleegkundige van dienst is. Niemand wordt opnieuw uitgenodigd als de dienst wisselt." \
  "Der Hauskrankenpflegedienst arbeitet in Schichten: Er ist einmal im Team, als Organisation, und sein Dienstplan sagt, welche Pflegekraft im Dienst ist. Beim Schichtwechsel wird niemand neu eingeladen.")"
as gp team invite "$TEAM" "$SERVICE" --role professional
as gp team invite "$TEAM" "$PHARMACIST" --role professional
as gp team invite "$TEAM" "$SOCIAL" --role social
for p in service pharmacist social; do
  as "$p" team accept "$TEAM"
done
as service roster add "$NURSE"
as nurse roster on-duty
probe nurse roster show
sees "$(t "the home nurse is on duty for the service" "l'infirmière à domicile est de garde pour le service" "de thuisverpleegkundige is van dienst voor de dienst" "die Hauskrankenpflegerin ist im Dienst für den Dienst")" \
  "{\"account_id\":\"$NURSE\",\"display_name\":\"$(sed 's/"/\\"/g' <<<"${NAME[nurse]}")\",\"on_duty\":true"
say "$(t "The coordinator's device sends each newcomer the team profile." \
  "L'appareil du coordinateur envoie à chaque nouveau venu le profil de l'équipe." \
  "Het toestel van de coördinator stuurt elke nieuwkomer het teamprofiel." \
  "Das Gerät des Koordinators sendet jeder neu hinzugekommenen Person das Teamprofil.")"
as gp receive
sees "$(t "the GP sees the social worker join" "le médecin voit arriver l'assistante sociale" "de huisarts ziet de maatschappelijk werker toetreden" "der Hausarzt sieht die Sozialarbeiterin beitreten")" "${NAME[social]}"
as gp team members "$TEAM"
probe gp team members "$TEAM"
sees_match "$(t "the social worker reads #team and #care only" "l'assistante sociale ne lit que #équipe et #soins" "de maatschappelijk werker leest alleen #team en #zorg" "die Sozialarbeiterin liest nur #Team und #Pflege")" \
  "\"account_id\":\"$SOCIAL\",.*\"can_read\":\\[\"team\",\"care\"\\]"
sees_match "$(t "the service reads #clinical, and the home nurse on duty reads for it" "le service lit #clinique, et l'infirmière de garde lit pour lui" "de dienst leest #klinisch, en de verpleegkundige van dienst leest voor hem" "der Dienst liest #klinisch, und die Pflegekraft im Dienst liest für ihn")" \
  "\"account_id\":\"$SERVICE\",.*\"can_read\":\[\"team\",\"care\",\"clinical\"\].*\"on_duty\":\[\{\"account_id\":\"$NURSE\""
does_not_see "$(t "nobody is left waiting for an answer" "personne n'attend plus de réponse" "niemand wacht nog op een antwoord" "niemand wartet mehr auf eine Antwort")" '"status":"invited"'

step "$(t "The discharge letter and the medication list go on #clinical" \
  "La lettre de sortie et la liste des médicaments partent sur #clinique" \
  "De ontslagbrief en de medicatielijst gaan naar #klinisch" \
  "Der Entlassungsbrief und die Medikamentenliste gehen an #klinisch")"
say "$(t "The liaison nurse shares the letter (a PDF, encrypted on her machine) and the medication list; the GP writes to the care professionals (#care) and to the family (#team)." \
  "L'infirmière de liaison partage la lettre (un PDF, chiffré sur sa machine) et la liste des médicaments ; le médecin écrit aux soignants (#soins) et à la famille (#équipe)." \
  "De liaisonverpleegkundige deelt de brief (een pdf, versleuteld op haar computer) en de medicatielijst; de huisarts schrijft aan de zorgverleners (#zorg) en aan de familie (#team)." \
  "Die Überleitungspflegekraft teilt den Brief (ein PDF, auf ihrem Rechner verschlüsselt) und die Medikamentenliste; der Hausarzt schreibt an die Fachkräfte (#Pflege) und an die Familie (#Team).")"
letter="discharge-letter-dubois.pdf"
printf '%%PDF-1.4\n%% Discharge letter, cardiology, CHU Saint-Pierre\n%% Patient: %s, born 1941-03-02\n%% Diagnosis: decompensated heart failure; discharged home %s\n%%%%EOF\n' \
  "$PATIENT" "$(date +%F)" >"$work/$letter"
as liaison send-file --team "$TEAM" --channel clinical "$letter" --caption "$CAPTION"
as liaison send --team "$TEAM" --channel clinical "$MEDICATION"
as gp send --team "$TEAM" --channel care "$CARE_NOTE"
as gp send --team "$TEAM" --channel team "$TEAM_NOTE"

step "$(t "Who reads what: the home nurse and the pharmacist" \
  "Qui lit quoi : l'infirmière à domicile et le pharmacien" \
  "Wie leest wat: de thuisverpleegkundige en de apotheker" \
  "Wer liest was: die Hauskrankenpflegerin und der Apotheker")"
as nurse receive
sees "$(t "the home nurse gets the discharge letter" "l'infirmière à domicile reçoit la lettre de sortie" "de thuisverpleegkundige krijgt de ontslagbrief" "die Hauskrankenpflegerin erhält den Entlassungsbrief")" "$letter"
sees "$(t "the home nurse gets the medication list" "l'infirmière à domicile reçoit la liste des médicaments" "de thuisverpleegkundige krijgt de medicatielijst" "die Hauskrankenpflegerin erhält die Medikamentenliste")" "$MEDICATION"
sees "$(t "the home nurse gets #care" "l'infirmière à domicile reçoit #soins" "de thuisverpleegkundige krijgt #zorg" "die Hauskrankenpflegerin erhält #Pflege")" "$CARE_NOTE"
sees "$(t "the home nurse gets #team" "l'infirmière à domicile reçoit #équipe" "de thuisverpleegkundige krijgt #team" "die Hauskrankenpflegerin erhält #Team")" "$TEAM_NOTE"
sees "$(t "the home nurse's device names the patient" "l'appareil de l'infirmière nomme la patiente" "het toestel van de thuisverpleegkundige noemt de patiënte" "das Gerät der Hauskrankenpflegerin nennt die Patientin")" "$PATIENT"
capture nurse attachment_id files --team "$TEAM"
DOC="$value"
mkdir -p "$work/nurse-inbox"
as nurse get-file "$DOC" --out nurse-inbox
cmp -s "$work/$letter" "$work/nurse-inbox/$letter" ||
  check_failed "the letter the home nurse fetched differs from the one sent"
echo "    ok: $(t "the home nurse's copy of the letter is the liaison nurse's, byte for byte" \
  "la copie de la lettre de l'infirmière à domicile est celle de l'infirmière de liaison, octet pour octet" \
  "het exemplaar van de thuisverpleegkundige is dat van de liaisonverpleegkundige, byte voor byte" \
  "die Kopie des Briefes bei der Hauskrankenpflegerin stimmt Byte für Byte mit der der Überleitungspflegekraft überein")"
as pharmacist receive
sees "$(t "the pharmacist gets the medication list" "le pharmacien reçoit la liste des médicaments" "de apotheker krijgt de medicatielijst" "der Apotheker erhält die Medikamentenliste")" "$MEDICATION"
sees "$(t "the pharmacist gets the discharge letter" "le pharmacien reçoit la lettre de sortie" "de apotheker krijgt de ontslagbrief" "der Apotheker erhält den Entlassungsbrief")" "$letter"

step "$(t "The physiotherapist, invited after the discharge, reads the letter" \
  "Le kinésithérapeute, invité après la sortie, lit la lettre" \
  "De kinesitherapeut, na het ontslag uitgenodigd, leest de brief" \
  "Der Physiotherapeut, nach der Entlassung eingeladen, liest den Brief")"
say "$(t "He joins after the letter was sent. The coordinator's device hands him, end to end encrypted, what was said and shared before on the channels a professional reads: the server records with whom history was shared, never what." \
  "Il arrive après l'envoi de la lettre. L'appareil du coordinateur lui transmet, chiffré de bout en bout, ce qui a été dit et partagé avant sur les canaux qu'un professionnel lit : le serveur note avec qui l'historique a été partagé, jamais quoi." \
  "Hij komt erbij nadat de brief verstuurd is. Het toestel van de coördinator geeft hem, end-to-end versleuteld, wat eerder gezegd en gedeeld werd in de kanalen die een zorgverlener leest: de server noteert met wie de geschiedenis gedeeld werd, nooit wat." \
  "Er kommt hinzu, nachdem der Brief verschickt wurde. Das Gerät des Koordinators übergibt ihm Ende-zu-Ende-verschlüsselt, was vorher in den Kanälen gesagt und geteilt wurde, die eine Fachkraft liest: Der Server hält fest, mit wem der Verlauf geteilt wurde, nie was.")"
as gp team invite "$TEAM" "$PHYSIO" --role professional
as physio team accept "$TEAM"
as gp receive
as physio receive
sees "$(t "the physiotherapist is handed the history from before he joined" "le kinésithérapeute reçoit l'historique d'avant son arrivée" "de kinesitherapeut krijgt de geschiedenis van voor hij aansloot" "der Physiotherapeut erhält den Verlauf aus der Zeit vor seinem Beitritt")" \
  "$(t "handed you the history" "vous a transmis l'historique" "gaf u de geschiedenis" "hat Ihnen den Verlauf")"
as physio team history "$TEAM"
sees "$(t "the physiotherapist's history holds the discharge letter" "l'historique du kinésithérapeute contient la lettre de sortie" "de geschiedenis van de kinesitherapeut bevat de ontslagbrief" "der Verlauf des Physiotherapeuten enthält den Entlassungsbrief")" "$letter"
sees "$(t "and the medication list" "et la liste des médicaments" "en de medicatielijst" "und die Medikamentenliste")" "$MEDICATION"
mkdir -p "$work/physio-letter"
as physio get-file "$DOC" --out physio-letter
cmp -s "$work/$letter" "$work/physio-letter/$letter" ||
  check_failed "the letter the physiotherapist fetched differs from the one sent"
echo "    ok: $(t "the physiotherapist opens the letter sent before he joined, byte for byte" \
  "le kinésithérapeute ouvre la lettre envoyée avant son arrivée, octet pour octet" \
  "de kinesitherapeut opent de brief die vóór zijn komst verstuurd werd, byte voor byte" \
  "der Physiotherapeut öffnet den vor seinem Beitritt verschickten Brief, Byte für Byte")"

step "$(t "The social worker reads #care and #team, not #clinical" \
  "L'assistante sociale lit #soins et #équipe, pas #clinique" \
  "De maatschappelijk werker leest #zorg en #team, niet #klinisch" \
  "Die Sozialarbeiterin liest #Pflege und #Team, nicht #klinisch")"
as social receive
sees "$(t "the social worker gets #care" "l'assistante sociale reçoit #soins" "de maatschappelijk werker krijgt #zorg" "die Sozialarbeiterin erhält #Pflege")" "$CARE_NOTE"
sees "$(t "the social worker gets #team" "l'assistante sociale reçoit #équipe" "de maatschappelijk werker krijgt #team" "die Sozialarbeiterin erhält #Team")" "$TEAM_NOTE"
does_not_see "$(t "no medication list for the social worker" "pas de liste des médicaments pour l'assistante sociale" "geen medicatielijst voor de maatschappelijk werker" "keine Medikamentenliste für die Sozialarbeiterin")" "$DRUG"
does_not_see "$(t "no discharge letter for the social worker" "pas de lettre de sortie pour l'assistante sociale" "geen ontslagbrief voor de maatschappelijk werker" "kein Entlassungsbrief für die Sozialarbeiterin")" "$letter"
probe social team profile "$TEAM"
sees "$(t "the social worker gets the team profile from the coordinator" "l'assistante sociale reçoit le profil de l'équipe du coordinateur" "de maatschappelijk werker krijgt het teamprofiel van de coördinator" "die Sozialarbeiterin erhält das Teamprofil vom Koordinator")" \
  "\"patient_name\":\"$PATIENT\""
say "$(t "Even with the letter's id in hand she cannot open it: its key travels only in the message to #clinical, which never reached her. Nor may she post on #clinical." \
  "Même avec l'id de la lettre en main, elle ne peut pas l'ouvrir : sa clé ne voyage que dans le message à #clinique, qui ne lui est jamais parvenu. Elle ne peut pas non plus écrire sur #clinique." \
  "Zelfs met de id van de brief kan ze hem niet openen: de sleutel reist alleen mee in het bericht naar #klinisch, dat haar nooit bereikte. Ze mag ook niet op #klinisch posten." \
  "Selbst mit der ID des Briefes kann sie ihn nicht öffnen: Sein Schlüssel reist nur in der Nachricht an #klinisch mit, die sie nie erreicht hat. Sie darf auch nicht in #klinisch schreiben.")"
mkdir -p "$work/social-inbox"
refused social get-file "$DOC" --out social-inbox
sees "$(t "she never got the letter's key" "elle n'a jamais reçu la clé de la lettre" "ze kreeg de sleutel van de brief nooit" "sie hat den Schlüssel des Briefes nie erhalten")" "$DOC"
[[ -z "$(ls -A "$work/social-inbox")" ]] || check_failed "the refused download left a file in the social worker's folder"
refused social send --team "$TEAM" --channel clinical "$(t "May I see the lab results?" "Puis-je voir les résultats de labo ?" "Mag ik de labo-uitslagen zien?" "Darf ich die Laborergebnisse einsehen?")"

step "$(t "The daughter reads #team only, and who her mother is to the team" \
  "La fille ne lit que #équipe, et qui est sa mère pour l'équipe" \
  "De dochter leest alleen #team, en wie haar moeder is voor het team" \
  "Die Tochter liest nur #Team, und wer ihre Mutter für das Team ist")"
as daughter receive
sees "$(t "the daughter gets the GP's word to the family" "la fille reçoit le mot du médecin à la famille" "de dochter krijgt het woord van de huisarts aan de familie" "die Tochter erhält die Nachricht des Hausarztes an die Familie")" "$TEAM_NOTE"
does_not_see "$(t "no medication list for the daughter" "pas de liste des médicaments pour la fille" "geen medicatielijst voor de dochter" "keine Medikamentenliste für die Tochter")" "$DRUG"
does_not_see "$(t "no #care note for the daughter" "pas de note #soins pour la fille" "geen #zorg-bericht voor de dochter" "keine #Pflege-Nachricht für die Tochter")" "$MEALS"
does_not_see "$(t "no discharge letter for the daughter" "pas de lettre de sortie pour la fille" "geen ontslagbrief voor de dochter" "kein Entlassungsbrief für die Tochter")" "$letter"
as daughter team profile "$TEAM"
sees "$(t "the daughter's device holds her mother's profile" "l'appareil de la fille détient le profil de sa mère" "het toestel van de dochter bewaart het profiel van haar moeder" "das Gerät der Tochter hat das Profil ihrer Mutter gespeichert")" "$PATIENT"

step "$(t "The GP lets the helpdesk find the team by the blind index" \
  "Le médecin permet au helpdesk de retrouver l'équipe par l'index aveugle" \
  "De huisarts laat de helpdesk het team vinden via de blinde index" \
  "Der Hausarzt lässt den Helpdesk das Team über den blinden Suchindex finden")"
say "$(t "The organisation's security officer hands out the organisation key with the devices (here a made-up one, mode 0600). The GP registers the team's blind index: a keyed hash of the national number; the server never sees the number nor the key." \
  "Le responsable de la sécurité de l'organisation remet la clé d'organisation avec les appareils (ici une clé inventée, mode 0600). Le médecin enregistre l'index aveugle de l'équipe : une empreinte à clé du numéro national ; le serveur ne voit jamais ni le numéro ni la clé." \
  "De veiligheidsverantwoordelijke van de organisatie geeft de organisatiesleutel mee met de toestellen (hier een verzonnen sleutel, modus 0600). De huisarts registreert de blinde index van het team: een hash met sleutel van het rijksregisternummer; de server ziet nooit het nummer of de sleutel." \
  "Der Sicherheitsbeauftragte der Organisation gibt den Organisationsschlüssel mit den Geräten aus (hier ein erfundener Schlüssel, Modus 0600). Der Hausarzt registriert den blinden Suchindex des Teams: einen mit dem Schlüssel gebildeten Hash der Nationalregisternummer; der Server sieht weder die Nummer noch den Schlüssel.")"
(umask 077 && echo "2026-1 $(openssl rand -hex 32)" >"$CARERELAY_HOME/organisation.key")
as gp team index "$TEAM"
sees "$(t "the index is registered" "l'index est enregistré" "de index is geregistreerd" "der Suchindex ist registriert")" "${TEAM:0:8}"

step "$(t "The daughter calls the helpdesk; it finds the team and routes an intake to the GP" \
  "La fille appelle le helpdesk ; il retrouve l'équipe et oriente une demande vers le médecin" \
  "De dochter belt de helpdesk; die vindt het team en verwijst een intake door naar de huisarts" \
  "Die Tochter ruft den Helpdesk an; dieser findet das Team und leitet eine Anfrage an den Hausarzt weiter")"
# No --helpdesk-account in the server's configuration is needed: an intake's
# notes always go to the staff member who opened it, and then to whoever it
# is routed to. That option adds staff who get every intake's notes and the
# escalations of unanswered urgent messages (after 20 minutes, longer than
# this scenario lasts).
say "$(t "Marie Dubois: \"My mother came home yesterday; she is dizzy when she stands up. Her national number is $NISS_SPOKEN.\"" \
  "Marie Dubois : « Ma mère est rentrée hier ; elle a des vertiges quand elle se lève. Son numéro national est le $NISS_SPOKEN. »" \
  "Marie Dubois: \"Mijn moeder is gisteren thuisgekomen; ze is duizelig als ze rechtstaat. Haar rijksregisternummer is $NISS_SPOKEN.\"" \
  "Marie Dubois: \"Meine Mutter ist gestern nach Hause gekommen; ihr wird schwindelig, wenn sie aufsteht. Ihre Nationalregisternummer ist $NISS_SPOKEN.\"")"
# (Not probed again with --json: every lookup is written to the audit log.)
as helpdesk team find --national-number "$NISS_SPOKEN"
sees "$(t "the helpdesk finds this team" "le helpdesk retrouve cette équipe" "de helpdesk vindt dit team" "der Helpdesk findet dieses Team")" "$TEAM"
sees "$(t "the helpdesk sees who coordinates it" "le helpdesk voit qui la coordonne" "de helpdesk ziet wie het coördineert" "der Helpdesk sieht, wer es koordiniert")" "${NAME[gp]} ($GP)"
capture helpdesk intake_id intake open --caller caregiver --urgency high \
  --category hospital-discharge --team "$TEAM" \
  --notes "$(t "Daughter: mother dizzy on standing since discharge yesterday" \
    "Fille : sa mère a des vertiges en position debout depuis sa sortie hier" \
    "Dochter: moeder duizelig bij het rechtstaan sinds het ontslag gisteren" \
    "Tochter: Mutter hat seit der Entlassung gestern Schwindel beim Aufstehen")"
INTAKE="$value"
as helpdesk intake route "$INTAKE" --coordinator \
  --notes "$(t "Daughter reports $DIZZY since discharge; please call her back" \
    "La fille signale des $DIZZY depuis la sortie ; merci de la rappeler" \
    "Dochter meldt: moeder $DIZZY sinds het ontslag; gelieve haar terug te bellen" \
    "Tochter meldet: Mutter hat seit der Entlassung $DIZZY; bitte rufen Sie sie zurück")"
sees "$(t "the intake goes to the GP" "la demande va au médecin" "de intake gaat naar de huisarts" "die Anfrage geht an den Hausarzt")" "${NAME[gp]}"
as gp receive
sees "$(t "the GP is alerted" "le médecin est alerté" "de huisarts wordt gewaarschuwd" "der Hausarzt wird benachrichtigt")" "carerelay intake accept $INTAKE"
sees "$(t "the GP reads the helpdesk's notes" "le médecin lit les notes du helpdesk" "de huisarts leest de notities van de helpdesk" "der Hausarzt liest die Notizen des Helpdesks")" "$DIZZY"
as gp intake accept "$INTAKE"
as gp send --team "$TEAM" --channel team "$(t "Marie, I called you back: I will see your mother this afternoon" \
  "Marie, je vous ai rappelée : je passe voir votre mère cet après-midi" \
  "Marie, ik heb u teruggebeld: ik kom vanmiddag bij uw moeder langs" \
  "Marie, ich habe Sie zurückgerufen: Ich komme heute Nachmittag bei Ihrer Mutter vorbei")"
as gp intake resolve "$INTAKE"
as helpdesk intake show "$INTAKE"
sees "$(t "the helpdesk sees the GP by name in the history" "le helpdesk voit le médecin par son nom dans l'historique" "de helpdesk ziet de huisarts bij naam in de geschiedenis" "der Helpdesk sieht den Hausarzt namentlich im Verlauf")" "-> ${NAME[gp]}"
probe helpdesk intake show "$INTAKE"
sees "$(t "the helpdesk sees it resolved" "le helpdesk la voit résolue" "de helpdesk ziet ze opgelost" "der Helpdesk sieht sie als erledigt")" '"state":"resolved"'
sees_match "$(t "the helpdesk sees the GP accepted it" "le helpdesk voit que le médecin l'a acceptée" "de helpdesk ziet dat de huisarts ze aanvaardde" "der Helpdesk sieht, dass der Hausarzt sie angenommen hat")" \
  "\\{\"actor\":\"$GP\",\"actor_name\":\"[^\"]*\",[^}]*\"kind\":\"accepted\""

step "$(t "An urgent message about blood pressure, acknowledged from the GP's phone" \
  "Un message urgent sur la tension artérielle, confirmé depuis le téléphone du médecin" \
  "Een dringend bericht over de bloeddruk, bevestigd vanaf de telefoon van de huisarts" \
  "Eine dringende Nachricht zum Blutdruck, bestätigt vom Telefon des Hausarztes")"
say "$(t "The GP adds his phone as a second device (a link code from his laptop)." \
  "Le médecin ajoute son téléphone comme second appareil (un code de liaison depuis son ordinateur portable)." \
  "De huisarts voegt zijn telefoon toe als tweede toestel (een koppelcode vanaf zijn laptop)." \
  "Der Hausarzt fügt sein Telefon als zweites Gerät hinzu (mit einem Verknüpfungscode von seinem Laptop).")"
capture gp code device link
LINK="$value"
NAME[gp-phone]="${NAME[gp]}, $(t "phone" "téléphone" "telefoon" "Telefon")"
as gp-phone register --server "$server" --ca-file "$ca_file" --code "$LINK" --device-name "gp phone"
probe gp-phone whoami
sees "$(t "the phone is the GP's account" "le téléphone est sur le compte du médecin" "de telefoon hoort bij het account van de huisarts" "das Telefon gehört zum Konto des Hausarztes")" "\"account_id\":\"$GP\""
say "$(t "The home nurse, at the patient's home, sends an URGENT message on #clinical: every reader must acknowledge it." \
  "L'infirmière à domicile, chez la patiente, envoie un message URGENT sur #clinique : chaque lecteur doit en confirmer la réception." \
  "De thuisverpleegkundige, bij de patiënte thuis, stuurt een DRINGEND bericht op #klinisch: elke lezer moet de ontvangst bevestigen." \
  "Die Hauskrankenpflegerin sendet bei der Patientin zu Hause eine DRINGENDE Nachricht in #klinisch: Jede lesende Person muss sie bestätigen.")"
capture nurse urgent_message_id send --urgent --team "$TEAM" --channel clinical "$URGENT_TEXT"
URGENT="$value"
as gp-phone receive
sees "$(t "the GP's phone shows the urgent message, from the nurse" "le téléphone du médecin affiche le message urgent de l'infirmière" "de telefoon van de huisarts toont het dringende bericht van de verpleegkundige" "das Telefon des Hausarztes zeigt die dringende Nachricht der Krankenpflegerin")" "${NAME[nurse]}"
sees "$(t "with what the nurse wrote" "avec ce que l'infirmière a écrit" "met wat de verpleegkundige schreef" "mit dem, was die Krankenpflegerin geschrieben hat")" "$URGENT_TEXT"
sees "$(t "and how to acknowledge it" "et comment en confirmer la réception" "en hoe hij de ontvangst bevestigt" "und wie er sie bestätigt")" "carerelay ack "
as gp-phone ack "$URGENT"
sees "$(t "the acknowledgement is recorded" "la confirmation est enregistrée" "de bevestiging is geregistreerd" "die Bestätigung ist erfasst")" "$URGENT"
as nurse acks "$URGENT"
probe nurse acks "$URGENT"
sees "$(t "the nurse sees the GP acknowledged" "l'infirmière voit que le médecin a confirmé" "de verpleegkundige ziet dat de huisarts bevestigde" "die Krankenpflegerin sieht, dass der Hausarzt bestätigt hat")" "{\"account_id\":\"$GP\",\"acknowledged\":true"
does_not_see "$(t "the nurse is not acknowledged as a recipient of her own message" \
  "l'infirmière n'est pas comptée parmi les destinataires de son propre message" \
  "de verpleegkundige telt niet mee als ontvanger van haar eigen bericht" \
  "die Krankenpflegerin zählt nicht als Empfängerin ihrer eigenen Nachricht")" "\"account_id\":\"$NURSE\""
say "$(t "Her device also shows where the message has been delivered: the GP's phone has stored it; the GP's laptop, the pharmacist and the physiotherapist have not opened carerelay since." \
  "Son appareil montre aussi où le message a été remis : le téléphone du médecin l'a enregistré ; l'ordinateur du médecin, le pharmacien et le kinésithérapeute n'ont pas ouvert carerelay depuis." \
  "Haar toestel toont ook waar het bericht is afgeleverd: de telefoon van de huisarts heeft het opgeslagen; de laptop van de huisarts, de apotheker en de kinesitherapeut hebben carerelay sindsdien niet geopend." \
  "Ihr Gerät zeigt auch, wohin die Nachricht zugestellt wurde: Das Telefon des Hausarztes hat sie gespeichert; der Laptop des Hausarztes, der Apotheker und der Physiotherapeut haben carerelay seitdem nicht geöffnet.")"
as nurse receive
sees_match "$(t "delivered to the GP's phone (device 2)" "remis au téléphone du médecin (appareil 2)" "afgeleverd op de telefoon van de huisarts (toestel 2)" "zugestellt an das Telefon des Hausarztes (Gerät 2)")" \
  "$(ere "${NAME[gp]}") \\([^)]* 2\\)"
does_not_see "$(t "not yet to the pharmacist" "pas encore au pharmacien" "nog niet bij de apotheker" "noch nicht beim Apotheker")" "${NAME[pharmacist]}"

step "$(t "The physiotherapist is removed; what is sent afterwards is not his to read" \
  "Le kinésithérapeute est retiré de l'équipe ; ce qui est envoyé ensuite ne lui est plus destiné" \
  "De kinesitherapeut wordt verwijderd; wat daarna verstuurd wordt, is niet meer voor hem" \
  "Der Physiotherapeut wird entfernt; was danach gesendet wird, ist nicht mehr für ihn bestimmt")"
as gp team remove "$TEAM" "$PHYSIO"
as gp send --team "$TEAM" --channel clinical "$PHYSIO_STOPS"
as nurse receive
sees "$(t "the home nurse gets the message sent after the removal" "l'infirmière à domicile reçoit le message envoyé après le retrait" "de thuisverpleegkundige krijgt het bericht van na de verwijdering" "die Hauskrankenpflegerin erhält die nach der Entfernung gesendete Nachricht")" "$PHYSIO_STOPS"
as physio receive
sees "$(t "the physiotherapist is told he was removed" "le kinésithérapeute apprend qu'il a été retiré" "de kinesitherapeut hoort dat hij verwijderd is" "der Physiotherapeut erfährt, dass er entfernt wurde")" "${NAME[physio]}"
does_not_see "$(t "the removed physiotherapist does not get it" "le kinésithérapeute retiré ne le reçoit pas" "de verwijderde kinesitherapeut krijgt het niet" "der entfernte Physiotherapeut erhält sie nicht")" "$WALKING"
does_not_see "$(t "the urgent message still waiting for him was deleted at his removal" \
  "le message urgent qui l'attendait a été supprimé à son retrait" \
  "het dringende bericht dat nog op hem wachtte, is bij zijn verwijdering gewist" \
  "die dringende Nachricht, die noch auf ihn wartete, wurde bei seiner Entfernung gelöscht")" "$BP"
refused physio send --team "$TEAM" --channel clinical "$(t "Can I still post here?" "Puis-je encore écrire ici ?" "Kan ik hier nog posten?" "Kann ich hier noch schreiben?")"
say "$(t "His device forgot the team's keys and documents when it was told of the removal: the letter he received earlier is no longer his to fetch." \
  "Son appareil a oublié les clés et les documents de l'équipe en apprenant le retrait : la lettre reçue plus tôt n'est plus à sa portée." \
  "Zijn toestel vergat de sleutels en documenten van het team toen het de verwijdering vernam: de brief die hij eerder kreeg, kan hij niet meer ophalen." \
  "Sein Gerät hat die Schlüssel und Dokumente des Teams vergessen, als es von der Entfernung erfuhr: Den Brief, den er vorher erhalten hat, kann er nicht mehr abrufen.")"
mkdir -p "$work/physio-inbox"
refused physio get-file "$DOC" --out physio-inbox

step "$(t "The audit log is read and verified" \
  "Le journal d'audit est lu et vérifié" \
  "Het auditlogboek wordt gelezen en geverifieerd" \
  "Das Audit-Protokoll wird gelesen und überprüft")"
as gp team audit "$TEAM"
probe gp team audit "$TEAM"
sees "$(t "consent is in the log" "le consentement est au journal" "de toestemming staat in het logboek" "die Einwilligung steht im Protokoll")" '"event":"consent_recorded"'
sees_match "$(t "the coordinator designation is in the log" "la désignation du coordinateur est au journal" "de aanstelling van de coördinator staat in het logboek" "die Bestimmung des Koordinators steht im Protokoll")" \
  "\"event\":\"coordinator_designated\",\"sequence\":[0-9]+,\"subject\":\"$GP\""
sees "$(t "the helpdesk's lookup is in the log" "la recherche du helpdesk est au journal" "de opzoeking door de helpdesk staat in het logboek" "die Suche durch den Helpdesk steht im Protokoll")" '"event":"found_by_index"'
sees "$(t "the document download is in the log" "le téléchargement du document est au journal" "het downloaden van het document staat in het logboek" "das Herunterladen des Dokuments steht im Protokoll")" '"event":"attachment_downloaded"'
sees_match "$(t "the log names the nurse who downloaded it for the service" "le journal nomme l'infirmière qui l'a téléchargé pour le service" "het logboek noemt de verpleegkundige die het voor de dienst downloadde" "das Protokoll nennt die Pflegekraft, die es für den Dienst heruntergeladen hat")" \
  "\"actor\":\"$NURSE\",\"event\":\"attachment_downloaded\",\"sequence\":[0-9]+,\"subject\":\"$SERVICE\""
sees_match "$(t "the nurse's shift is in the log" "la garde de l'infirmière est au journal" "de dienst van de verpleegkundige staat in het logboek" "die Schicht der Pflegekraft steht im Protokoll")" \
  "\"actor\":\"$NURSE\",\"event\":\"roster_changed\",\"sequence\":[0-9]+,\"subject\":\"$SERVICE\""
sees_match "$(t "the history handed to the physiotherapist is in the log, not what it said" "la transmission de l'historique au kinésithérapeute est au journal, pas son contenu" "de overdracht van de geschiedenis aan de kinesitherapeut staat in het logboek, niet de inhoud" "die Übergabe des Verlaufs an den Physiotherapeuten steht im Protokoll, nicht sein Inhalt")" \
  "\"actor\":\"$GP\",.*\"event\":\"history_shared\",\"sequence\":[0-9]+,\"subject\":\"$PHYSIO\""
sees_match "$(t "the physiotherapist's removal is in the log" "le retrait du kinésithérapeute est au journal" "de verwijdering van de kinesitherapeut staat in het logboek" "die Entfernung des Physiotherapeuten steht im Protokoll")" \
  "\"event\":\"removed\",\"sequence\":[0-9]+,\"subject\":\"$PHYSIO\""
as gp team audit "$TEAM" --verify
probe gp team audit "$TEAM" --verify
sees "$(t "the GP's device finds the chain intact" "l'appareil du médecin trouve la chaîne intacte" "het toestel van de huisarts vindt de keten intact" "das Gerät des Hausarztes findet die Kette intakt")" '"intact":true'
say "$(t "The patient's side checks it too, from the daughter's device." \
  "Le côté de la patiente le vérifie aussi, depuis l'appareil de sa fille." \
  "De kant van de patiënte controleert het ook, vanaf het toestel van de dochter." \
  "Die Seite der Patientin prüft es ebenfalls, vom Gerät der Tochter aus.")"
as daughter team audit "$TEAM" --verify
probe daughter team audit "$TEAM" --verify
sees "$(t "the daughter's device finds the chain intact" "l'appareil de la fille trouve la chaîne intacte" "het toestel van de dochter vindt de keten intact" "das Gerät der Tochter findet die Kette intakt")" '"intact":true'

printf '\n==== %s\n' "$(t "The discharge scenario passed: every person saw what they should, and nothing more." \
  "Le scénario de sortie d'hôpital a réussi : chacun a vu ce qu'il devait voir, et rien de plus." \
  "Het ontslagscenario is geslaagd: iedereen zag wat hij moest zien, en niets meer." \
  "Das Entlassungsszenario ist gelungen: Jede Person hat gesehen, was sie sehen sollte, und nichts darüber hinaus.")"
