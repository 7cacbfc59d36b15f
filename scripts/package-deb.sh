#!/usr/bin/env bash
# Builds the Debian package of gmail-relay: the binary, the systemd unit, sysusers/tmpfiles, the default
# configuration /etc/gmail-relay/gmail-relay.toml (a conffile), the docs, the man page (made from the
# binary's own help), the certbot deploy hook and the monitoring examples.
#
# Usage: scripts/package-deb.sh [--debug-binary | --binary FILE] OUTDIR
#
#   (default)       release build: swift build -c release --static-swift-stdlib in $GMAIL_RELAY_DEB_SCRATCH
#                   (default .build-deb; 10-20 minutes from scratch on 2 cores). The Swift runtime and
#                   Foundation are linked in statically (they are not in Debian); the binary then needs
#                   only Debian's own libraries (libc6, libstdc++6, libsqlite3-0, libcurl4, ...), which
#                   become the Depends.
#   --debug-binary  package .build/debug/gmail-relay as built by scripts/test.sh (CI: no second build).
#   --binary FILE   package that binary.
#                   A binary linked against the Swift runtime's shared libraries (a debug build) gets
#                   them bundled in /usr/lib/gmail-relay, and /usr/bin/gmail-relay is a wrapper that
#                   sets LD_LIBRARY_PATH and execs it. Good for testing the package, not for servers.
#
# Environment: GMAIL_RELAY_DEB_VERSION (default: from `gmail-relay --version` when it exists, else
# 0~git<commit date>.<commit>), GMAIL_RELAY_DEB_SCRATCH (scratch path of the release build).
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

mode=release binary=""
while (($#)); do
    case $1 in
        --debug-binary) mode=debug; binary=.build/debug/gmail-relay; shift ;;
        --binary) mode=given; binary=${2:?--binary needs a file}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "package-deb.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
outdir=${1:?usage: scripts/package-deb.sh [--debug-binary | --binary FILE] OUTDIR}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for tool in dpkg-deb dpkg-query objdump ldd python3 gzip; do
    command -v "$tool" >/dev/null || { echo "package-deb.sh: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 1; }
done

if [[ $mode == release ]]; then
    scratch=${GMAIL_RELAY_DEB_SCRATCH:-.build-deb}
    echo "== release build (--static-swift-stdlib) in $scratch" >&2
    swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product gmail-relay >&2
    binary=$scratch/release/gmail-relay
fi
[[ -x $binary ]] || { echo "package-deb.sh: no binary at $binary (build it first)" >&2; exit 1; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

# The version, from the binary (--version); a binary that cannot tell gets a git-based one.
if [[ -z ${GMAIL_RELAY_DEB_VERSION:-} ]]; then
    reported=$("$binary" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?[0-9A-Za-z.+~-]*' | head -n 1 || true)
    if [[ -n $reported ]]; then
        GMAIL_RELAY_DEB_VERSION=$reported
    else
        GMAIL_RELAY_DEB_VERSION="0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).$(git rev-parse --short=10 HEAD)"
    fi
fi
version=$GMAIL_RELAY_DEB_VERSION
[[ $mode != debug ]] || version="$version+debug"
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/gmail-relay" "$root/lib/systemd/system" \
    "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc/gmail-relay" \
    "$root/usr/share/doc/gmail-relay/examples" "$root/usr/share/man/man1"

# --- the binary and the libraries it needs -----------------------------------------------------------
# Every shared library the binary (and what we bundle) loads: a Debian package's library becomes a
# Depends; anything else (the Swift toolchain's runtime) is bundled.
declare -A depends=()
bundled=()
declare -A package_of=()
library_package() { # PATH -> the Debian package that ships it, or nothing (one dpkg-query per library)
    local path=$1 real
    if [[ -z ${package_of[$path]+set} ]]; then
        real=$(readlink -f "$path")
        package_of[$path]=$(dpkg-query -S $(printf '%s\n' "$path" "$real" "/usr${path#/usr}" "/usr${real#/usr}" \
            "${path#/usr}" "${real#/usr}" | sort -u) 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1 || true)
    fi
    echo "${package_of[$path]}"
}
scan() { # ELF file: record its direct NEEDED libraries
    local file=$1 needed path package
    declare -A where=()
    while read -r name _ path _; do
        [[ $path == /* ]] && where[$name]=$path
    done < <(ldd "$file" | grep '=>')
    for needed in $(objdump -p "$file" | awk '$1 == "NEEDED" { print $2 }'); do
        case $needed in ld-linux*|linux-vdso*) package=libc6; depends[$package]=1; continue ;; esac
        path=${where[$needed]:-}
        [[ -n $path ]] || { echo "package-deb.sh: $file needs $needed, which ldd does not find" >&2; exit 1; }
        library_package "$path" >"$stage/package"
        package=$(<"$stage/package")
        if [[ -n $package ]]; then
            depends[$package]=1
        elif [[ ! -e $root/usr/lib/gmail-relay/$needed ]]; then
            install -m 0644 "$path" "$root/usr/lib/gmail-relay/$needed"
            bundled+=("$needed")
            scan "$path"
        fi
    done
}
if [[ $mode == release ]]; then
    install -m 0755 "$binary" "$root/usr/bin/gmail-relay"
    strip --strip-unneeded "$root/usr/bin/gmail-relay"
    scan "$root/usr/bin/gmail-relay"
else
    install -m 0755 "$binary" "$root/usr/lib/gmail-relay/gmail-relay"
    scan "$binary"
fi
if ((${#bundled[@]})); then
    echo "bundled from the Swift toolchain: ${bundled[*]}" >&2
    if [[ -e $root/usr/bin/gmail-relay ]]; then
        mv "$root/usr/bin/gmail-relay" "$root/usr/lib/gmail-relay/gmail-relay"
    fi
    cat >"$root/usr/bin/gmail-relay" <<'EOF'
#!/bin/sh
# gmail-relay built against the Swift runtime's shared libraries, bundled in /usr/lib/gmail-relay.
# Found relative to this script, so it also runs from a root unpacked elsewhere (dpkg --root, dpkg-deb -x).
# exec keeps the process id: systemd's MAINPID and the notify socket see the relay itself.
lib=$(dirname "$(readlink -f "$0")")/../lib/gmail-relay
LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec "$lib/gmail-relay" "$@"
EOF
    chmod 0755 "$root/usr/bin/gmail-relay"
elif [[ ! -e $root/usr/bin/gmail-relay ]]; then
    mv "$root/usr/lib/gmail-relay/gmail-relay" "$root/usr/bin/gmail-relay"
fi
depends[systemd]=1
depend_line=""
for package in $(printf '%s\n' "${!depends[@]}" | sort); do
    installed=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null | sed -E 's/^[0-9]+://; s/-[^-]*$//')
    if [[ $package == systemd ]]; then installed=247; fi # sysusers/tmpfiles --root, StateDirectory, ProtectProc
    depend_line+="${depend_line:+, }$package${installed:+ (>= $installed)}"
done

# --- files -------------------------------------------------------------------------------------------
install -m 0644 contrib/systemd/gmail-relay.service "$root/lib/systemd/system/gmail-relay.service"
install -m 0644 contrib/systemd/gmail-relay.sysusers "$root/usr/lib/sysusers.d/gmail-relay.conf"
install -m 0644 contrib/systemd/gmail-relay.tmpfiles "$root/usr/lib/tmpfiles.d/gmail-relay.conf"
install -m 0644 contrib/deb/gmail-relay.toml "$root/etc/gmail-relay/gmail-relay.toml"
install -m 0755 contrib/certbot/gmail-relay-deploy-hook "$root/usr/lib/gmail-relay/certbot-deploy-hook"
doc=$root/usr/share/doc/gmail-relay
install -m 0644 README.md "$doc/README.md"
for page in docs/*.md; do install -m 0644 "$page" "$doc/$(basename "$page")"; done
install -m 0644 contrib/systemd/gmail-relay.service.d/ports-below-1024.conf "$doc/examples/ports-below-1024.conf"
install -m 0644 contrib/prometheus/alerts.yml "$doc/examples/prometheus-alerts.yml"
install -m 0644 contrib/grafana/gmail-relay.json "$doc/examples/grafana-dashboard.json"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: gmail-relay
Comment: Built from commit $(git rev-parse HEAD). The Swift runtime and Foundation
 (Apache-2.0 with Runtime Library Exception) and the SwiftPM dependencies listed in Package.resolved
 (Apache-2.0 or MIT) are linked into the binary.

Files: *
Copyright: the gmail-relay authors
License: see the project repository
EOF
printf 'gmail-relay (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- gmail-relay maintainers <maintainers@example.invalid>  %s\n' \
    "$version" "$(git rev-parse --short HEAD)" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -9n >"$doc/changelog.Debian.gz"

# The man page from the packaged binary's help (through the wrapper when libraries are bundled).
if ((${#bundled[@]})); then
    man_binary=$stage/run-packaged
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$root/usr/lib/gmail-relay" "$root/usr/lib/gmail-relay/gmail-relay" >"$man_binary"
    chmod +x "$man_binary"
else
    man_binary=$root/usr/bin/gmail-relay
fi
python3 contrib/man/help-to-man.py "$man_binary" "$version" | gzip -9n >"$root/usr/share/man/man1/gmail-relay.1.gz"

# --- control files -----------------------------------------------------------------------------------
echo /etc/gmail-relay/gmail-relay.toml >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/control" <<EOF
Package: gmail-relay
Version: $version
Architecture: $arch
Maintainer: gmail-relay maintainers <maintainers@example.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depend_line
Suggests: certbot, prometheus
Section: mail
Priority: optional
Homepage: https://github.com/gmail-relay/gmail-relay
Description: SMTP relay from CMS sites to the Gmail API
 gmail-relay accepts mail from WordPress and other CMS sites over SMTP (AUTH, STARTTLS or implicit
 TLS) and sends it through Gmail's API (users.messages.send). When Gmail sending breaks (revoked
 grants, missing scopes, quotas) it keeps the mail and explains on its status page what is wrong and
 which command fixes it.
 .
 Runs as the systemd service gmail-relay (user gmail-relay, data in /var/lib/gmail-relay, the
 configuration in /etc/gmail-relay/gmail-relay.toml). See /usr/share/doc/gmail-relay/deploy.md.
EOF
# Maintainer scripts honour DPKG_ROOT, so `dpkg --root=DIR --force-script-chrootless -i` (the check in
# scripts/check-contrib.sh) runs them against DIR without a chroot.
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    root=${DPKG_ROOT:-}
    # The user and group gmail-relay, then /etc/gmail-relay(/tls) and /var/lib/gmail-relay.
    systemd-sysusers ${root:+--root="$root"} gmail-relay.conf
    systemd-tmpfiles ${root:+--root="$root"} --create gmail-relay.conf
fi
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    # Upgrade: restart a running relay on the new binary. A first install does not start it: the
    # configuration comes first (systemctl enable --now gmail-relay; see deploy.md).
    if [ -n "$2" ]; then systemctl try-restart gmail-relay.service || true; fi
fi
exit 0
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl disable --now gmail-relay.service || true
fi
exit 0
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
    # Mail, accounts and their encrypted secrets stay: delete them yourself when you mean it.
    echo "gmail-relay: /var/lib/gmail-relay (queue, accounts, secret.key) was kept; rm -rf it to delete them." >&2
fi
exit 0
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print0 | sort -z |
    xargs -0 md5sum | sed 's| \./| |') >"$root/DEBIAN/md5sums"

# A debug binary is large: compress fast. The release package gets xz.
compression=(-Zxz)
((${#bundled[@]} == 0)) || compression=(-Zgzip -z1)
deb=$outdir/gmail-relay_${version}_${arch}.deb
dpkg-deb --root-owner-group "${compression[@]}" --build "$root" "$deb" >&2
echo "Depends: $depend_line" >&2
echo "$deb"
