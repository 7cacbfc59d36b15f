#!/usr/bin/env bash
# Checks everything under contrib/ and the Debian package, for CI (a phase of scripts/test.sh):
#   1. systemd: sysusers and tmpfiles applied to a throw-away root (user, directories, modes, owners);
#      `systemd-analyze verify` of the unit and of the unit with the ports-below-1024 drop-in, with
#      ExecStart pointing at the packaged binary and Documentation=man: checked against the packaged man
#      page (any message fails: verify exits 0 on unknown keys); a unit with a typo must fail (the check
#      checks itself); `systemd-analyze security --offline` exposure.
#   2. Prometheus: promtool check rules + promtool test rules (contrib/prometheus/alerts.test.yml).
#   3. Grafana: the dashboard is valid JSON; every metric it or the alert rules use is served by the code
#      (names read from Sources/), except the ones listed in ASSUMED below (printed as a reminder).
#   4. The .deb (scripts/package-deb.sh), installed with dpkg into a throw-away root (maintainer scripts
#      run chrootless against it), then from that root: --version (else --help), `serve` with the
#      packaged default config (ports and data.dir moved into the root) under the kernel's
#      MemoryDenyWriteExecute equivalent, /healthz and /metrics with a read token, a message through a
#      sandbox account over SMTP, SIGTERM; the certbot deploy hook; purge.
#
# Usage: scripts/check-contrib.sh [--release | --binary FILE]
#   default     package .build/debug/gmail-relay (scripts/test.sh built it: CI has no time for a second,
#               release build of everything, 10-20 minutes on 2 cores)
#   --release   package-deb.sh's real release build (--static-swift-stdlib, scratch path .build-deb)
#   --binary F  package that binary
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

package_args=(--debug-binary)
case ${1:-} in
    --release) package_args=() ;;
    --binary) package_args=(--binary "${2:?--binary needs a file}") ;;
    "") ;;
    *) echo "check-contrib.sh: unknown option $1" >&2; exit 2 ;;
esac

# Metrics the alert rules use that the code does not serve yet (the rules stay silent until it does).
ASSUMED=()

# --- tools, installed only when missing (as scripts/install-deps.sh does) ------------------------------
missing=()
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v promtool >/dev/null || missing+=(prometheus)
command -v objdump >/dev/null || missing+=(binutils)
command -v man >/dev/null || missing+=(man-db)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
relay_pid=""
cleanup() {
    if [[ -n $relay_pid ]] && kill -0 "$relay_pid" 2>/dev/null; then kill -KILL "$relay_pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-contrib.sh: FAILED: $*" >&2; exit 1; }
step() { echo "-- $*"; }

# --- 1a. sysusers and tmpfiles in a throw-away root ----------------------------------------------------
step "sysusers + tmpfiles in a throw-away root"
mkdir -p "$work/users/etc"
systemd-sysusers --root="$work/users" "$repo"/contrib/systemd/gmail-relay.sysusers
systemd-tmpfiles --root="$work/users" --create "$repo"/contrib/systemd/gmail-relay.tmpfiles
uid=$(awk -F: '$1 == "gmail-relay" { print $3 }' "$work/users/etc/passwd")
gid=$(awk -F: '$1 == "gmail-relay" { print $3 }' "$work/users/etc/group")
[[ -n $uid && -n $gid ]] || fail "sysusers made no user or group gmail-relay"
grep -q '^gmail-relay:.*:/var/lib/gmail-relay:/usr/sbin/nologin$' "$work/users/etc/passwd" || fail "gmail-relay: wrong home or shell"
for expect in "/etc/gmail-relay 750 0 $gid" "/etc/gmail-relay/tls 750 0 $gid" "/var/lib/gmail-relay 700 $uid $gid"; do
    read -r path mode owner group <<<"$expect"
    got=$(stat -c '%a %u %g' "$work/users$path")
    [[ $got == "$mode $owner $group" ]] || fail "$path is '$got', expected '$mode $owner $group'"
done

# --- 2. Prometheus rules ----------------------------------------------------------------------------
step "promtool check rules / test rules"
promtool check rules contrib/prometheus/alerts.yml
(cd contrib/prometheus && promtool test rules alerts.test.yml)

# --- 3. dashboard and metric names ------------------------------------------------------------------
step "dashboard JSON and metric names"
python3 -m json.tool contrib/grafana/gmail-relay.json >/dev/null
python3 - "${ASSUMED[@]}" <<'EOF'
import glob, json, re, sys
assumed = set(sys.argv[1:])
# Served names: RelayMetrics' descriptors (relay_<name>_<unit>, histograms also _bucket/_sum/_count) and
# the names written out in Prometheus text in the sources (StoreGauges: "# TYPE relay_...").
served = set()
for path in glob.glob("Sources/**/*.swift", recursive=True):
    text = open(path, encoding="utf-8").read()
    for name, unit in re.findall(r'descriptor\(\s*"([a-z0-9_]+)"\s*,\s*"([a-z0-9_]+)"', text):
        base = f"relay_{name}_{unit}"
        served |= {base, base + "_bucket", base + "_sum", base + "_count"}
    served |= set(re.findall(r'# TYPE (relay_[a-z0-9_]+)', text))
if not {"relay_messages", "relay_accounts", "relay_messages_total"} <= served:
    sys.exit(f"could not read the metric names from Sources/ (found {sorted(served)})")
served.add("up")  # Prometheus' own

def names(expr):
    expr = re.sub(r'"[^"]*"', '""', expr)                    # label values
    expr = re.sub(r'\{[^}]*\}', '', expr)                     # matchers
    expr = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', '', expr)
    return {n for n in re.findall(r'\b[a-zA-Z_:][a-zA-Z0-9_:]*\b', expr) if n.startswith("relay_") or n == "up"}

dashboard = json.load(open("contrib/grafana/gmail-relay.json"))
used = set()
def walk(node):
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str): used.update(names(node["expr"]))
        for value in node.values(): walk(value)
    elif isinstance(node, list):
        for value in node: walk(value)
walk(dashboard)
unknown = used - served
if unknown: sys.exit(f"the dashboard uses metrics the relay does not serve: {sorted(unknown)}")
print(f"dashboard: {len(used)} metric names, all served")

rules, in_expr = set(), None
for line in open("contrib/prometheus/alerts.yml"):
    m = re.match(r'^(\s*)expr:\s*(\|)?\s*(.*)$', line)
    if m:
        in_expr = len(m.group(1)) if m.group(2) else None
        rules.update(names(m.group(3)))
    elif in_expr is not None and (not line.strip() or len(line) - len(line.lstrip()) > in_expr):
        rules.update(names(line))
    else:
        in_expr = None
unknown = rules - served - assumed
if unknown: sys.exit(f"the alert rules use metrics the relay does not serve: {sorted(unknown)}")
print(f"alert rules: {len(rules)} metric names; not served yet (assumed): {sorted(rules & assumed - served) or 'none'}")
stale = assumed & served
if stale: print(f"note: now served, drop from ASSUMED in scripts/check-contrib.sh: {sorted(stale)}")
EOF

# --- 4. the package ---------------------------------------------------------------------------------
step "scripts/package-deb.sh ${package_args[*]}"
deb=$(scripts/package-deb.sh "${package_args[@]}" "$work/out" | tail -n 1)
[[ -f $deb ]] || fail "package-deb.sh made no .deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb" >"$work/contents"
for path in ./usr/bin/gmail-relay ./lib/systemd/system/gmail-relay.service ./usr/lib/sysusers.d/gmail-relay.conf \
    ./usr/lib/tmpfiles.d/gmail-relay.conf ./etc/gmail-relay/gmail-relay.toml ./usr/share/man/man1/gmail-relay.1.gz \
    ./usr/share/doc/gmail-relay/deploy.md ./usr/share/doc/gmail-relay/copyright ./usr/lib/gmail-relay/certbot-deploy-hook \
    ./usr/share/doc/gmail-relay/examples/ports-below-1024.conf; do
    grep -q " $path\$" "$work/contents" || fail "the package lacks $path"
done
dpkg-deb --field "$deb" Depends | grep -q libsqlite3-0 || fail "Depends lacks libsqlite3-0"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/gmail-relay/gmail-relay.toml || fail "gmail-relay.toml is not a conffile"

step "install into a throw-away root"
root=$work/root
if [[ $(id -u) -eq 0 ]]; then
    # dpkg itself, with the maintainer scripts run on this machine against DPKG_ROOT (they take --root).
    # --force-depends: the throw-away root has no other packages.
    mkdir -p "$root/etc" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
    touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
    dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null -i "$deb"
    dpkg --root="$root" -s gmail-relay | grep -q '^Status: install ok installed' || fail "dpkg does not show gmail-relay installed"
    uid=$(awk -F: '$1 == "gmail-relay" { print $3 }' "$root/etc/passwd")
    [[ -n $uid ]] || fail "postinst made no gmail-relay user"
    [[ $(stat -c '%a %u' "$root/var/lib/gmail-relay") == "700 $uid" ]] || fail "postinst: /var/lib/gmail-relay is not 0700 gmail-relay"
    installed_by_dpkg=yes
else
    echo "(not root: dpkg-deb -x instead of dpkg -i; maintainer scripts not run)"
    dpkg-deb -x "$deb" "$root"
    installed_by_dpkg=no
fi
binary=$root/usr/bin/gmail-relay

step "systemd-analyze verify"
# verify resolves ExecStart= on this machine and fails when the binary is missing: check the unit with
# ExecStart pointing into the throw-away root (after checking that the packaged path is the one there).
unit=$root/lib/systemd/system/gmail-relay.service
grep -q '^ExecStart=/usr/bin/gmail-relay serve --config /etc/gmail-relay/gmail-relay.toml$' "$unit" || fail "unexpected ExecStart"
mkdir -p "$work/units" "$work/units-dropin/gmail-relay.service.d" "$work/units-bad"
sed "s#^ExecStart=/usr/bin/gmail-relay#ExecStart=$binary#" "$unit" >"$work/units/gmail-relay.service"
# verify ignores drop-in directories next to a unit given by path: check the unit with the drop-in
# appended (the same assignments, in the same order, as systemd applies them).
cat "$work/units/gmail-relay.service" contrib/systemd/gmail-relay.service.d/ports-below-1024.conf \
    >"$work/units-dropin/gmail-relay.service"
cp contrib/systemd/gmail-relay.service.d/ports-below-1024.conf "$work/units-dropin/gmail-relay.service.d/"
sed 's/^NoNewPrivileges=yes/NoNewPrivilegez=yes/' "$work/units/gmail-relay.service" >"$work/units-bad/gmail-relay.service"
verify() { # prints what systemd-analyze says; fails on any message (it exits 0 on unknown keys)
    local out
    out=$(MANPATH=$root/usr/share/man systemd-analyze verify --man=yes "$1" 2>&1) || { echo "$out"; return 1; }
    [[ -z $out ]] || { echo "$out"; return 1; }
}
verify "$work/units/gmail-relay.service" || fail "systemd-analyze verify gmail-relay.service"
verify "$work/units-dropin/gmail-relay.service" || fail "systemd-analyze verify with ports-below-1024.conf"
if verify "$work/units-bad/gmail-relay.service" >/dev/null; then fail "verify did not catch a misspelt key: the check is broken"; fi
security=$(systemd-analyze security --offline=yes --threshold=25 "$work/units/gmail-relay.service" 2>&1) ||
    { echo "$security" | tail -n 40; fail "systemd-analyze security: exposure above 2.5"; }
echo "$security" | grep -F 'Overall exposure level'
security=$(systemd-analyze security --offline=yes "$work/units-dropin/gmail-relay.service" 2>&1)
if grep -qiE 'unknown|ignoring|failed' <<<"$security"; then echo "$security" | grep -iE 'unknown|ignoring|failed'; fail "the drop-in"; fi

step "man page"
man_warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$root/usr/share/man/man1/gmail-relay.1.gz" 2>&1 >/dev/null)
[[ -z $man_warnings ]] || { echo "$man_warnings"; fail "groff warnings in the man page"; }
zcat "$root/usr/share/man/man1/gmail-relay.1.gz" | grep -q '^.SS "gmail-relay credential add"' || fail "the man page lacks nested subcommands"

step "run the packaged binary"
"$binary" --version >"$work/version" 2>&1 || fail "$binary --version"
grep -qE '^[0-9]+\.[0-9]+' "$work/version" || fail "--version printed no version: $(cat "$work/version")"
echo "gmail-relay --version: $(cat "$work/version")"

# serve with the packaged config; only data.dir and the ports are moved (environment wins over the file).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
smtp_port=$(free_port) web_port=$(free_port)
read_token=$(openssl rand -hex 24)
export GMAIL_RELAY_CONFIG=$root/etc/gmail-relay/gmail-relay.toml GMAIL_RELAY_DATA_DIR=$root/var/lib/gmail-relay \
    GMAIL_RELAY_SMTP_LISTEN=127.0.0.1:$smtp_port GMAIL_RELAY_WEB_LISTEN=127.0.0.1:$web_port \
    GMAIL_RELAY_WEB_READ_TOKEN=$read_token
mkdir -p "$GMAIL_RELAY_DATA_DIR" && chmod 0700 "$GMAIL_RELAY_DATA_DIR"
"$binary" account add demo --sandbox --from relay@example.com >/dev/null
echo 'a-long-smtp-password-for-the-check' | "$binary" credential add wordpress --account demo --password-stdin >/dev/null

# The notify socket as systemd would give it (READY=1 is required: the unit is Type=notify),
# and MemoryDenyWriteExecute as the kernel's prctl(PR_SET_MDWE) (Linux 6.3+): inherited across exec.
python3 - "$work/notify.sock" "$work/relay.log" "$work/relay.pid" "$binary" serve <<'EOF' &
import ctypes, os, socket, sys
notify, log, pidfile, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(notify)
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
mdwe = libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0
pid = os.fork()
if pid == 0:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1); os.dup2(fd, 2)
    os.environ["NOTIFY_SOCKET"] = notify
    os.execv(argv[0], argv)
open(pidfile, "w").write(f"{pid}\n")
print("MemoryDenyWriteExecute (PR_SET_MDWE):", "on" if mdwe else "not available on this kernel", flush=True)
sock.settimeout(0.5)
ready, exited, waited = False, False, 0.0
while not exited:
    try:
        if not ready and "READY=1" in sock.recv(4096).decode(errors="replace").split("\n"):
            ready = True
            print("notify socket: READY=1", flush=True)
    except socket.timeout:
        pass
    if ready:
        import time; time.sleep(0.5)
    waited += 0.5
    exited = os.waitpid(pid, os.WNOHANG)[0] == pid
if not ready:
    print(f"notify socket: no READY=1 in the {waited:.0f} s it ran", flush=True)
    sys.exit(1)
EOF
watcher=$!
for _ in $(seq 1 100); do [[ -s $work/relay.pid ]] && break; sleep 0.1; done
relay_pid=$(cat "$work/relay.pid")
healthy=no
for _ in $(seq 1 120); do
    if curl -fsS -H "Authorization: Bearer $read_token" "http://127.0.0.1:$web_port/healthz" 2>/dev/null | grep -q ok; then healthy=yes; break; fi
    kill -0 "$relay_pid" 2>/dev/null || break
    sleep 0.5
done
[[ $healthy == yes ]] || { cat "$work/relay.log"; fail "/healthz did not answer ok"; }
echo "serve: /healthz ok with the read token (SMTP 127.0.0.1:$smtp_port, page 127.0.0.1:$web_port)"
[[ -s $GMAIL_RELAY_DATA_DIR/web-admin-token ]] || fail "serve made no web-admin-token in data.dir"
python3 - "$smtp_port" <<'EOF'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as smtp:
    smtp.login("wordpress", "a-long-smtp-password-for-the-check")
    reply = smtp.sendmail("relay@example.com", ["you@example.com"],
                          "From: relay@example.com\r\nTo: you@example.com\r\nSubject: check-contrib\r\n\r\nhello\r\n")
print("SMTP: a message accepted through the sandbox account")
EOF
sent=no
for _ in $(seq 1 60); do
    curl -fsS -H "Authorization: Bearer $read_token" "http://127.0.0.1:$web_port/metrics" >"$work/metrics"
    if grep -q '^relay_messages_total{.*outcome="sent".*} 1' "$work/metrics"; then sent=yes; break; fi
    sleep 0.5
done
[[ $sent == yes ]] || { cat "$work/metrics"; fail "/metrics shows no sent message"; }
for series in 'relay_messages{status="held"}' 'relay_accounts{state="ok"} 1' relay_messages_accepted_total relay_attempts_total relay_send_duration_seconds_bucket; do
    grep -qF "$series" "$work/metrics" || { cat "$work/metrics"; fail "/metrics lacks $series"; }
done
echo "metrics: the gauges and the delivery counters are served (read token)"
kill -TERM "$relay_pid"
for _ in $(seq 1 180); do kill -0 "$relay_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$relay_pid" 2>/dev/null; then fail "serve did not stop within 90 s of SIGTERM"; fi
wait "$watcher" || fail "the relay never said READY=1 on NOTIFY_SOCKET (Type=notify would time out)"
relay_pid=""
echo "serve: stopped on SIGTERM"
unset GMAIL_RELAY_CONFIG GMAIL_RELAY_DATA_DIR GMAIL_RELAY_SMTP_LISTEN GMAIL_RELAY_WEB_LISTEN GMAIL_RELAY_WEB_READ_TOKEN

step "certbot deploy hook"
mkdir -p "$work/live"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=relay.example.com \
    -keyout "$work/live/privkey.pem" -out "$work/live/fullchain.pem" 2>/dev/null
RENEWED_LINEAGE=$work/live GMAIL_RELAY_TLS_DIR=$work/tls GMAIL_RELAY_GROUP=$(id -gn) \
    "$root/usr/lib/gmail-relay/certbot-deploy-hook" >/dev/null
for file in fullchain.pem privkey.pem; do
    cmp -s "$work/live/$file" "$work/tls/$file" || fail "the hook did not copy $file"
    [[ $(stat -c %a "$work/tls/$file") == 640 ]] || fail "$file is not 0640"
done
[[ $(stat -c %a "$work/tls") == 750 ]] || fail "the tls directory is not 0750"
echo "certbot hook: chain and key copied, 0640, in a 0750 directory"

if [[ $installed_by_dpkg == yes ]]; then
    step "purge"
    dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null -P gmail-relay 2>&1 | grep -v '^(Reading database' || true
    [[ ! -e $root/usr/bin/gmail-relay && ! -e $root/etc/gmail-relay/gmail-relay.toml ]] || fail "purge left the binary or the conffile"
    [[ -e $root/var/lib/gmail-relay/relay.sqlite ]] || fail "purge deleted the data directory"
    echo "purge: files and conffile gone, data kept"
fi
echo "contrib checks passed"
