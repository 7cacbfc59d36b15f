#!/usr/bin/env python3
"""Writes the gmail-relay(1) man page (roff) from the binary's own help texts.

Usage: help-to-man.py BINARY VERSION > gmail-relay.1

It runs `BINARY --help`, then `BINARY help SUB [SUBSUB...]` for every subcommand listed under
SUBCOMMANDS:, recursively, and puts each help text in a section of its own, verbatim. ArgumentParser's
generate-manual plugin would need a build of its own tool with the package; this needs only the binary
that goes into the package, so the page always matches it.
"""
import datetime
import os
import re
import subprocess
import sys


def help_text(binary, path):
    args = [binary, "help", *path] if path else [binary, "--help"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    text = result.stdout if result.stdout.strip() else result.stderr
    if result.returncode != 0 or "USAGE:" not in text:
        sys.exit(f"help-to-man.py: {' '.join(args)} failed ({result.returncode}): {text[:300]}")
    return text.rstrip() + "\n"


def subcommands(text):
    """The names listed under SUBCOMMANDS: (two-space indent, then the name)."""
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("SUBCOMMANDS:"):
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            match = re.match(r"^  ([a-z][a-z0-9-]*)(\s|$)", line)
            if match and match.group(1) != "help":
                names.append(match.group(1))
    return names


def roff_escape(line):
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def verbatim(text):
    return ".nf\n" + "\n".join(roff_escape(line) for line in text.rstrip("\n").splitlines()) + "\n.fi\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, version = sys.argv[1], sys.argv[2]
    top = help_text(binary, [])
    overview = re.search(r"OVERVIEW:\s*(.*?)\n\n", top, re.S)
    summary = " ".join(overview.group(1).split()) if overview else "SMTP relay to the Gmail API"

    sections, queue = [], [[name] for name in subcommands(top)]
    while queue:
        path = queue.pop(0)
        text = help_text(binary, path)
        sections.append((path, text))
        queue[0:0] = [path + [name] for name in subcommands(text)]

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or None
    date = (datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc) if epoch
            else datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d")
    out = [
        f'.TH GMAIL-RELAY 1 "{date}" "gmail-relay {version}" "User Commands"',
        ".SH NAME",
        "gmail-relay \\- " + roff_escape(summary[0].lower() + summary[1:]),
        ".SH SYNOPSIS",
        ".B gmail-relay",
        ".I subcommand",
        "[\\fIoptions\\fR]",
        ".SH DESCRIPTION",
        verbatim(top).rstrip("\n"),
        ".SH COMMANDS",
        "Each section is the output of \\fBgmail-relay help\\fR \\fIsubcommand\\fR.",
    ]
    for path, text in sections:
        out.append(f'.SS "gmail-relay {" ".join(path)}"')
        out.append(verbatim(text).rstrip("\n"))
    out += [
        ".SH ENVIRONMENT",
        ".TP",
        ".B GMAIL_RELAY_CONFIG",
        "The configuration file, when \\fB\\-\\-config\\fR is not given.",
        ".TP",
        ".B GMAIL_RELAY_*",
        "Every configuration key (\\fBsmtp.listen\\fR is \\fBGMAIL_RELAY_SMTP_LISTEN\\fR); the environment wins over the file.",
        ".SH FILES",
        ".TP",
        ".I /etc/gmail-relay/gmail-relay.toml",
        "The configuration of the packaged service.",
        ".TP",
        ".I /etc/gmail-relay/secrets.env",
        "Optional GMAIL_RELAY_* secrets read by the systemd unit.",
        ".TP",
        ".I /var/lib/gmail-relay",
        "data.dir of the service: database, spool, secret key.",
        ".SH SEE ALSO",
        "/usr/share/doc/gmail-relay/deploy.md, configuration.md, security.md, troubleshooting.md",
    ]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
