#!/usr/bin/env python3
"""Guarantees: turns the console logs of tests/kernels.sh's runs into tests/kernels/MATRIX.md (one
row per check, one column per kernel, every cell ok / skip / fail with a short reason whose full
text is a numbered note below the table) and a summary on stdout; exits 1 when any check failed
or any run did not reach its BPFQ-DONE line (a hung, crashed or timed-out guest), else 0.

    matrix.py --out FILE [--timeout N] [--build-secs N] [--total-secs N] LABEL=LOG:SECONDS:EXIT...

EXIT is the exit status of the guest's `timeout` command (124: killed at the timeout).

Only lines holding `BPFQ-RESULT`, `BPFQ-INFO` or `BPFQ-DONE` are read (anywhere in the line: a
kernel message may precede one on the serial console); all else in the log is ignored.
"""
import argparse
import datetime
import re
import sys

LINE = re.compile(r"BPFQ-(RESULT|INFO|DONE)(?: (.*))?$")
# The end of a failure's detail that a cell does not need: exit code and seconds, and the
# errno text every verifier refusal carries.
NOISE = [re.compile(r" \(exit \d+, [0-9.]+s\)$"), re.compile(r" \(EACCES: unsafe or invalid program\)")]
# Spelled shorter in a cell (the note keeps the full text).
ABBREV = [(re.compile(r"^error\[(E\d+)\]: "), r"\1 "), (re.compile(r"^verifier refused"), "verifier"),
          (re.compile(r"^bpfq: "), ""), (re.compile(r" cannot be computed on this kernel"), ": not on this kernel")]
SHORT = 64


class Run:
    def __init__(self, label, log, secs, rc):
        self.label, self.log, self.secs, self.rc = label, log, secs, rc
        self.results = {}  # check -> (status, detail)
        self.order = []
        self.info = {}
        self.done = None
        try:
            text = open(log, encoding="utf-8", errors="replace").read()
        except OSError as err:
            text = ""
            self.info["error"] = str(err)
        self.tail = [l for l in text.replace("\r", "").split("\n") if l.strip()][-8:]
        for raw in text.replace("\r", "").split("\n"):
            m = LINE.search(raw)
            if not m:
                continue
            kind, rest = m.group(1), (m.group(2) or "").strip()
            if kind == "DONE":
                self.done = rest
            elif kind == "INFO":
                key, _, value = rest.partition(" ")
                self.info[key] = value
            else:
                parts = rest.split(" ", 2)
                if len(parts) < 2:
                    continue
                check, status = parts[0], parts[1]
                detail = parts[2] if len(parts) > 2 else ""
                if check not in self.results:
                    self.order.append(check)
                self.results[check] = (status, detail)


def clean(detail):
    for pattern in NOISE:
        detail = pattern.sub("", detail)
    return detail.strip()


def cell_text(text):
    return text.replace("|", "\\|")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout")
    ap.add_argument("--build-secs")
    ap.add_argument("--total-secs")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()

    runs = []
    for spec in args.runs:
        label, _, rest = spec.partition("=")
        log, secs, rc = rest.rsplit(":", 2)
        runs.append(Run(label, log, secs, rc))

    def unfinished(run):
        if run.rc == "124":
            return f"did not finish: killed at the {args.timeout or '?'} s timeout"
        return f"did not finish (exit {run.rc}): hung, crashed or powered off early"

    # Rows in the order the checks ran, the first run's first; checks only some kernels have
    # (targets) join where they first appear.
    rows = []
    for run in runs:
        for i, check in enumerate(run.order):
            if check not in rows:
                prev = run.order[i - 1] if i else None
                rows.insert(rows.index(prev) + 1 if prev in rows else len(rows), check)

    notes = []  # full failure texts, numbered in order of first use

    def note(text):
        if text not in notes:
            notes.append(text)
        return notes.index(text) + 1

    def cell(run, check):
        if check not in run.results:
            if run.done is None:
                return "no result"
            return "–"
        status, detail = run.results[check]
        if status == "ok":
            # A check that worked another way than on the newest kernels says which.
            if detail.startswith("with fallback"):
                return "ok " + (detail if len(detail) <= SHORT else detail[: SHORT - 1] + "…")
            return "ok"
        if status == "skip":
            return f"skip: {detail}" if detail else "skip"
        full = clean(detail) or "no detail"
        short = full
        for pattern, repl in ABBREV:
            short = pattern.sub(repl, short)
        short = short if len(short) <= SHORT else short[: SHORT - 1].rstrip() + "…"
        return f"fail: {short} [{note(full)}]"

    head = ["check"] + [r.label for r in runs]
    lines = [
        "# bpfq on Debian's kernels (generated)",
        "",
        "Written by `tests/kernels.sh` (do not edit): each column is one kernel booted under qemu",
        "(TCG, `-cpu max -smp 2 -m 1G`) running `tests/kernels/guest.sh` as its init, or `host`,",
        "this machine's kernel running the same script in private mount and network namespaces.",
        "`–`: the kernel does not offer that target. The map-element targets walk maps that",
        "`tests/kernels/maps.c` makes and pins first. A failure's full first error line is",
        "the numbered note below the table; `(log)`: bpfq did not put the verifier's refusal in",
        "words, and the reason shown is the last line of the verifier's log (`--verbose`).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    info_rows = [
        ("kernel", lambda r: r.info.get("kernel", "?")),
        ("lockdown", lambda r: r.info.get("lockdown", "?")),
        ("bpfq", lambda r: r.results.get("version", ("", ""))[1] or "?"),
        ("wall time (boot + checks)", lambda r: f"{r.secs} s" if r.secs else "?"),
        ("time of the checks", lambda r: r.done or unfinished(r)),
    ]
    for name, get in info_rows:
        lines.append("| " + " | ".join([name] + [cell_text(get(r)) for r in runs]) + " |")
    for check in rows:
        lines.append("| " + " | ".join([cell_text(check)] + [cell_text(cell(r, check)) for r in runs]) + " |")
    lines.append("")
    if notes:
        lines.append("Failures, in full:")
        lines.append("")
        for i, text in enumerate(notes, 1):
            lines.append(f"{i}. {cell_text(text)}")
        lines.append("")
    extra = []
    if args.build_secs:
        extra.append(f"static bpfq build {args.build_secs} s")
    if args.total_secs:
        extra.append(f"whole run {args.total_secs} s")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"Run of {stamp}" + (f": {', '.join(extra)}." if extra else "."))
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")

    # Summary.
    failed = False
    for run in runs:
        counts = {"ok": 0, "fail": 0, "skip": 0}
        for status, _ in run.results.values():
            counts[status] = counts.get(status, 0) + 1
        state = "finished" if run.done is not None else "DID NOT FINISH"
        print(
            f"{run.label:14} {run.info.get('kernel', '?'):24} {state:14} "
            f"ok {counts['ok']:3}  fail {counts['fail']:3}  skip {counts['skip']:3}  "
            f"{run.secs or '?'} s"
        )
        if counts["fail"] or run.done is None:
            failed = True
        if run.done is None:
            print(f"  {unfinished(run)}; after {len(run.results)} checks; the console's last lines:")
            for l in run.tail:
                print(f"    {l[:160]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
