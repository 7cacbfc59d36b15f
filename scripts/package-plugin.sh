#!/usr/bin/env bash
# Builds the WordPress plugin's zip, the one uploaded in Plugins -> Add New -> Upload Plugin:
# gmail-relay-bridge-VERSION.zip with the one top folder gmail-relay-bridge/ (WordPress unpacks it
# into wp-content/plugins/ under that name).
#
# Usage: scripts/package-plugin.sh [OUTDIR]     (default OUTDIR: dist)
#
# Only what the plugin runs or shows goes in: PHP, readme.txt, translations (.pot/.po/.mo/.json),
# styles, scripts and images. Dotfiles, tests, Composer/npm/PHPCS/PHPUnit files, editor and patch
# leftovers stay out; a file of any other kind stops the build, so nothing new slips in unseen.
# VERSION is the plugin header's Version, which must equal readme.txt's Stable tag and
# GMAIL_RELAY_BRIDGE_VERSION. The zip is reproducible: entries sorted, times from
# SOURCE_DATE_EPOCH (default: the last commit's time), modes 0644/0755.
# Prints the path of the zip on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
plugin=php-bridge/gmail-relay-bridge
outdir=${1:-dist}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for tool in python3 php; do
    command -v "$tool" >/dev/null || { echo "package-plugin.sh: $tool is needed" >&2; exit 1; }
done

version=$(sed -n 's/^ \* Version: *\([^ ]*\) *$/\1/p' "$plugin/gmail-relay-bridge.php")
stable=$(sed -n 's/^Stable tag: *\([^ ]*\) *$/\1/p' "$plugin/readme.txt")
constant=$(sed -n "s/^define( 'GMAIL_RELAY_BRIDGE_VERSION', '\([^']*\)' );$/\1/p" "$plugin/gmail-relay-bridge.php")
if [[ -z $version || $version != "$stable" || $version != "$constant" ]]; then
    echo "package-plugin.sh: plugin header Version '$version', readme.txt Stable tag '$stable' and GMAIL_RELAY_BRIDGE_VERSION '$constant' must be the same" >&2
    exit 1
fi

# A broken file must not reach anyone's site.
while IFS= read -r -d '' file; do
    php -l "$file" >/dev/null || { echo "package-plugin.sh: $file has a syntax error" >&2; exit 1; }
done < <(find "$plugin" -name '*.php' -print0)

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
zip="$outdir/gmail-relay-bridge-$version.zip"
python3 - "$plugin" "$zip" "$epoch" <<'EOF'
import os, re, sys, time, zipfile

source, target, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
SHIPPED = re.compile(r"\.(php|txt|pot|po|mo|json|css|js|png|svg|jpg|gif)$")
# Development files by name, and folders never shipped.
DEV_FILE = re.compile(r"^(composer\.(json|lock)|package(-lock)?\.json|phpcs\.xml(\.dist)?|phpunit\.xml(\.dist)?|"
                      r"phpstan\.neon(\.dist)?|Makefile|.*\.(orig|rej|bak|swp|tmp)|.*~)$")
DEV_DIR = {"tests", "test", "node_modules", "vendor-bin", "bin", ".git"}

entries = []
for folder, dirs, files in os.walk(source):
    dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in DEV_DIR)
    for name in sorted(files):
        if name.startswith(".") or DEV_FILE.match(name):
            continue
        path = os.path.join(folder, name)
        if not SHIPPED.search(name):
            sys.exit(f"package-plugin.sh: {path} is neither a plugin file nor a known development file; "
                     "add its kind to the script on purpose")
        entries.append(os.path.relpath(path, source))

stamp = time.gmtime(max(epoch, 315532800))[:6]  # zip times start in 1980
partial = target + ".partial"
with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    made = set()
    for relative in sorted(entries):
        parts = relative.split(os.sep)
        for depth in range(0, len(parts)):
            folder = "/".join(["gmail-relay-bridge"] + parts[:depth]) + "/"
            if folder not in made:
                info = zipfile.ZipInfo(folder, stamp)
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
                made.add(folder)
        info = zipfile.ZipInfo("gmail-relay-bridge/" + "/".join(parts), stamp)
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(source, relative), "rb") as handle:
            archive.writestr(info, handle.read())
os.replace(partial, target)
print(f"{len(entries)} files in {target}", file=sys.stderr)
EOF
echo "$zip"
