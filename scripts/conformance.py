#!/usr/bin/env python3
"""Generate docs/conformance.md: every MQTT 5.0 normative statement and what covers it.

    python3 scripts/conformance.py              write docs/conformance.md
    python3 scripts/conformance.py --check      exit 1 if docs/conformance.md is stale, or a citation
                                                 names an id that is in neither the 5.0 nor the 3.1.1 list
    python3 scripts/conformance.py --init-notes add a "not yet covered" (or "client-only") line to
                                                 docs/conformance/notes.tsv for each uncovered statement
                                                 that has none; existing lines are kept

Citations are found in src/**/*.cs and tests/**/*.cs as MQTT-x.y.z-n (in comments, strings or names,
with or without brackets) or MQTT_x_y_z_n (in identifiers such as test method names). A citation inside
a test method, or in the comments and attributes just above one, counts for that test; any other
citation is a code reference (file:line). A test-data table (a file of vector rows under tests/) that
carries the line "// conformance: rows run by File.Method[, File.Method]" names the test methods that run
every row: its citations count for those tests (--check fails when a named test does not exist). A
citation written "3.1.1 [MQTT-...]" (or "v3.1.1", "v311"
just before it) names the 3.1.1 statement only and does not count for the 5.0 statement of that id.

Data (hand-maintained, tab-separated): docs/conformance/mqtt5-statements.tsv,
mqtt311-statements.tsv, aliases.tsv and notes.tsv. Python 3 standard library only.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "docs", "conformance")
OUT = os.path.join(ROOT, "docs", "conformance.md")
SCAN_DIRS = ("src", "tests")

CLIENT_ONLY_NOTE = ("client-only: a broker does not send this as a client (the broker's handling of a "
                    "client that breaks it can be tested, but that is the Server side, not this statement)")
DEFAULT_NOTE = "not yet covered"

STRICT_ID = re.compile(r"MQTT-\d+(?:\.\d+){1,3}-\d+")
# Anything that looks like an attempt at an id, including placeholders (-?) and misprints.
LOOSE_ID = re.compile(r"MQTT-\d[0-9.\-]*(?:\d|\?)")
UNDERSCORE_ID = re.compile(r"(?<![A-Za-z0-9])MQTT_(\d+(?:_\d+){2,4})(?![0-9])")
V311_MARK = re.compile(r"(?:v?3\.1\.1|v311)\W{0,3}$", re.IGNORECASE)
V5_MARK = re.compile(r"(?:v5|5\.0)\W{0,3}$", re.IGNORECASE)
TEST_ATTR = re.compile(r"^\s*\[(?:Fact|Theory|SkippableFact|SkippableTheory|Test|TestMethod|TestCase)\b")
METHOD_DECL = re.compile(r"^\s*public\s+(?:static\s+)?(?:async\s+)?(?:Task|ValueTask|void)\s+(\w+)\s*\(")
TRIVIA = re.compile(r"^\s*(?:$|//|/\*|\*|\[)")
RUN_BY = re.compile(r"^\s*//\s*conformance: rows run by\s+(.+?)\s*$")


# ---------------------------------------------------------------- data

def read_tsv(path):
    """Rows of a tab-separated file as dicts; '#' lines are comments, the first other line the header."""
    rows, header = [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                continue
            if len(cells) != len(header):
                sys.exit(f"{os.path.relpath(path, ROOT)}:{n}: expected {len(header)} columns, got {len(cells)}")
            rows.append(dict(zip(header, cells)))
    return rows


def load_statements(name):
    rows = read_tsv(os.path.join(DATA, name))
    seen = {}
    for r in rows:
        if r["id"] in seen:
            sys.exit(f"{name}: duplicate id {r['id']}")
        if not STRICT_ID.fullmatch(r["id"]):
            sys.exit(f"{name}: malformed id {r['id']}")
        if r["binds"] not in ("Server", "Client", "both"):
            sys.exit(f"{name}: {r['id']}: binds must be Server, Client or both")
        seen[r["id"]] = r
    return rows, seen


def load_notes():
    path = os.path.join(DATA, "notes.tsv")
    if not os.path.exists(path):
        return {}
    return {r["id"]: r["reason"] for r in read_tsv(path)}


# ---------------------------------------------------------------- scanning

class Citation:
    def __init__(self, path, line, raw, context):
        self.path = path          # relative to ROOT, '/' separators
        self.line = line
        self.raw = raw            # as written
        self.context = context    # the source line, stripped
        self.id = None            # canonical id, when it resolves
        self.version = None       # '5.0', '3.1.1', 'both', or None
        self.only311 = False      # written as a 3.1.1 citation
        self.kind = None          # 'id', 'placeholder', 'unknown'
        self.test = None          # (project/file, method) when inside a test
        self.runners = []         # [(project/file, method)] for a row of a table that those tests run


def source_files():
    for d in SCAN_DIRS:
        base = os.path.join(ROOT, d)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(x for x in dirnames if x not in ("bin", "obj"))
            for fn in sorted(filenames):
                if fn.endswith(".cs"):
                    yield os.path.join(dirpath, fn)


def strip_code(line):
    """The line without string/char literals and // comments, to count braces."""
    line = re.sub(r'@"(?:[^"]|"")*"', '""', line)
    line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    line = re.sub(r"'(?:[^'\\]|\\.)'", "''", line)
    return line.split("//", 1)[0]


def test_methods(lines):
    """(first_line, last_line, name) of each test method; first_line includes the comments and
    attributes directly above it. Line numbers are 0-based, inclusive."""
    out = []
    for i, text in enumerate(lines):
        m = METHOD_DECL.match(text)
        if not m:
            continue
        # attributes and comments directly above (a blank line ends the block)
        j = i - 1
        is_test = False
        while j >= 0 and lines[j].strip() and TRIVIA.match(lines[j]):
            if TEST_ATTR.match(lines[j]):
                is_test = True
            j -= 1
        start = j + 1
        if not is_test:
            continue
        # body: braces, or an expression body ending with ';'
        depth, end, opened = 0, i, False
        for k in range(i, len(lines)):
            code = strip_code(lines[k])
            if not opened and "=>" in code and "{" not in code.split("=>", 1)[0]:
                end = k
                while end < len(lines) and not strip_code(lines[end]).rstrip().endswith(";"):
                    end += 1
                break
            depth += code.count("{") - code.count("}")
            if "{" in code:
                opened = True
            if opened and depth <= 0:
                end = k
                break
        else:
            end = len(lines) - 1
        out.append((start, end, m.group(1)))
    return out


def scan(known5, known311, aliases):
    citations = []
    tests_by_file = {}   # "tests/Project/Dir/File.cs" -> set of test method names
    run_by = {}          # file -> (line, ["File.Method", ...])
    for full in source_files():
        rel = os.path.relpath(full, ROOT).replace(os.sep, "/")
        with open(full, encoding="utf-8-sig") as f:
            lines = f.read().split("\n")
        methods = test_methods(lines) if rel.startswith("tests/") else []
        if rel.startswith("tests/"):
            tests_by_file[rel] = {name for _, _, name in methods}
            for n, text in enumerate(lines):
                m = RUN_BY.match(text)
                if m:
                    run_by[rel] = (n + 1, [x.strip() for x in m.group(1).split(",") if x.strip()])
        for n, text in enumerate(lines):
            found = []  # (column, as written, id spelled with dashes)
            for m in LOOSE_ID.finditer(text):
                found.append((m.start(), m.group(0), m.group(0)))
            for m in UNDERSCORE_ID.finditer(text):
                parts = m.group(1).split("_")
                found.append((m.start(), m.group(0), "MQTT-" + ".".join(parts[:-1]) + "-" + parts[-1]))
            for start, written, ident in sorted(found):
                c = Citation(rel, n + 1, written, text.strip())
                before = text[max(0, start - 16):start].rstrip("[( ")
                c.only311 = bool(V311_MARK.search(before)) and not V5_MARK.search(before)
                resolve(c, ident, known5, known311, aliases)
                for a, b, name in methods:
                    if a <= n <= b:
                        c.test = (project_path(rel), name)
                        break
                citations.append(c)
    errors = []
    for rel, (line, names) in run_by.items():
        project = "/".join(rel.split("/")[:2])
        runners = []
        for name in names:
            stem, _, method = name.rpartition(".")
            found = [f for f, ms in tests_by_file.items()
                     if f.startswith(project + "/") and os.path.basename(f) == stem + ".cs" and method in ms]
            if not found:
                errors.append(f"{rel}:{line}: rows run by {name}, but {project} has no such test method")
                continue
            runners.append((project_path(found[0]), method))
        for c in citations:
            if c.path == rel and c.test is None:
                c.runners = runners
    return citations, errors


def resolve(c, ident, known5, known311, aliases):
    if ident.endswith("?"):
        c.kind = "placeholder"
        return
    canon5 = canon311 = None
    if ident in aliases:
        version, target = aliases[ident]
        if version == "5.0":
            canon5 = target
        else:
            canon311 = target
    if ident in known5:
        canon5 = ident
    if ident in known311:
        canon311 = ident
    if c.only311:
        canon5 = None
    if canon5 and canon311:
        c.kind, c.id, c.version = "id", canon5, "both"
    elif canon5:
        c.kind, c.id, c.version = "id", canon5, "5.0"
    elif canon311:
        c.kind, c.id, c.version = "id", canon311, "3.1.1"
    else:
        c.kind, c.id = "unknown", ident


def project_path(rel):
    """tests/Kirisame.Broker.Tests/Foo.cs -> Kirisame.Broker.Tests/Foo.cs"""
    parts = rel.split("/")
    return "/".join(parts[1:]) if len(parts) > 2 else rel


# ---------------------------------------------------------------- report

def md_cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def one_line(text, limit=200):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def build(statements5, known5, known311, citations, notes):
    tests = {}   # id -> sorted set of "Project/File.cs: Method"
    code = {}    # id -> list of "path:line"
    for c in citations:
        if c.kind != "id" or c.version not in ("5.0", "both"):
            continue
        if c.test or c.runners:
            for project_file, method in ([c.test] if c.test else c.runners):
                tests.setdefault(c.id, set()).add(f"{project_file}: {method}")
        else:
            code.setdefault(c.id, [])
            ref = f"{c.path}:{c.line}"
            if ref not in code[c.id]:
                code[c.id].append(ref)

    status = {}
    for s in statements5:
        i = s["id"]
        status[i] = "test" if i in tests else ("code" if i in code else "none")

    def count(kind, binds=None):
        return sum(1 for s in statements5 if status[s["id"]] == kind and (binds is None or s["binds"] == binds))

    out = []
    w = out.append
    w("# MQTT 5.0 conformance")
    w("")
    w("<!-- Generated by `python3 scripts/conformance.py` from docs/conformance/*.tsv and the citations in")
    w("     src/ and tests/. Do not edit by hand: edit notes.tsv or the code, then regenerate.")
    w("     `python3 scripts/conformance.py --check` fails when this file is stale. -->")
    w("")
    w("Every numbered normative statement `[MQTT-x.y.z-n]` of the OASIS MQTT Version 5.0 standard, with the")
    w("tests and code that cite it. A statement counts as *covered* when a test method cites its id (in a")
    w("comment, string or its name), or a row of a vector table that the test runs (the table says which tests")
    w("run it); *cited in code only* when only non-test code cites it; otherwise the")
    w("reason column comes from `docs/conformance/notes.tsv`. A citation is a claim by whoever wrote it —")
    w("this file checks that the id exists, not that the test really proves the statement.")
    w("")
    w("Statement ids of 5.0 and 3.1.1 overlap with different meanings (e.g. `MQTT-3.1.2-22` is the")
    w("server keep-alive rule in 5.0 but \"no password without a user name\" in 3.1.1). A citation of an id")
    w("that exists in both versions counts for the 5.0 statement unless it is written `3.1.1 [MQTT-…]`; the")
    w("[citation index](#citation-index) shows which version every citation can match.")
    w("")
    w("## Summary")
    w("")
    w("| | all | binds Server | binds Client | binds both |")
    w("|---|---:|---:|---:|---:|")
    for label, kind in (("covered by a test", "test"), ("cited in code only", "code"), ("not covered", "none")):
        w(f"| {label} | {count(kind)} | {count(kind, 'Server')} | {count(kind, 'Client')} | {count(kind, 'both')} |")
    w(f"| **statements** | **{len(statements5)}** | {sum(1 for s in statements5 if s['binds'] == 'Server')} | "
      f"{sum(1 for s in statements5 if s['binds'] == 'Client')} | {sum(1 for s in statements5 if s['binds'] == 'both')} |")
    w("")
    v311 = sum(1 for c in citations if c.kind == "id" and c.version == "3.1.1")
    ph = sum(1 for c in citations if c.kind == "placeholder")
    unk = sum(1 for c in citations if c.kind == "unknown")
    w(f"Citations found: {len(citations)} ({v311} of 3.1.1-only ids, {ph} placeholders without a number, "
      f"{unk} unknown ids).")
    w("")
    w("## Statements")
    w("")
    sections = {}
    for s in statements5:
        top = s["section"].split(".")
        key = top[0] + "." + top[1] if top[0] in ("1", "3", "4") and len(top) > 1 else top[0]
        sections.setdefault(key, []).append(s)
    for key, rows in sections.items():
        w(f"### {key}")
        w("")
        w("| id | binds | statement | tests | code | reason if not covered |")
        w("|---|---|---|---|---|---|")
        for s in rows:
            i = s["id"]
            t = "<br>".join(sorted(tests.get(i, ())))
            cr = "<br>".join(code.get(i, []))
            reason = ""
            if status[i] != "test":
                reason = notes.get(i, "TODO (no line in notes.tsv)")
            w(f"| {i} | {s['binds']} | {md_cell(one_line(s['statement']))} | {md_cell(t)} | {md_cell(cr)} | "
              f"{md_cell(reason)} |")
        w("")
    w("## Citation index")
    w("")
    w("Every citation in src/ and tests/, in file order. *matches*: `5.0` / `3.1.1` = the id exists only")
    w("in that version; `5.0 + 3.1.1` = it exists in both with different statements, check which one is")
    w("meant; `3.1.1 (marked)` = written as a 3.1.1 citation; `placeholder` = no statement number yet;")
    w("`UNKNOWN` = in neither list (`--check` fails).")
    w("")
    w("| where | test | cited | matches | 5.0 statement |")
    w("|---|---|---|---|---|")
    for c in citations:
        where = f"{c.path}:{c.line}"
        test = c.test[1] if c.test else ", ".join(m for _, m in c.runners)
        if c.kind == "placeholder":
            match = "placeholder"
        elif c.kind == "unknown":
            match = "UNKNOWN"
        elif c.only311:
            match = "3.1.1 (marked)"
        else:
            match = {"5.0": "5.0", "3.1.1": "3.1.1", "both": "5.0 + 3.1.1"}[c.version]
        text5 = ""
        if c.kind == "id" and c.version in ("5.0", "both"):
            text5 = one_line(known5[c.id]["statement"], 90)
        cited = c.raw if c.kind != "id" or c.raw == c.id else f"{c.raw} → {c.id}"
        w(f"| {where} | {md_cell(test)} | {md_cell(cited)} | {match} | {md_cell(text5)} |")
    w("")
    return "\n".join(out)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if docs/conformance.md is stale or an id is unknown")
    ap.add_argument("--init-notes", action="store_true", help="add notes.tsv lines for uncovered statements")
    args = ap.parse_args()

    statements5, known5 = load_statements("mqtt5-statements.tsv")
    _, known311 = load_statements("mqtt311-statements.tsv")
    aliases = {r["alias"]: (r["version"], r["canonical"]) for r in read_tsv(os.path.join(DATA, "aliases.tsv"))}
    for alias, (version, target) in aliases.items():
        if target not in (known5 if version == "5.0" else known311):
            sys.exit(f"aliases.tsv: {alias} points to {target}, which is not in the {version} list")
    citations, scan_errors = scan(known5, known311, aliases)
    notes = load_notes()
    for i in notes:
        if i not in known5:
            sys.exit(f"notes.tsv: {i} is not a 5.0 statement id")

    if args.init_notes:
        covered = {c.id for c in citations if c.kind == "id" and (c.test or c.runners) and c.version in ("5.0", "both")}
        path = os.path.join(DATA, "notes.tsv")
        new = not os.path.exists(path)
        added = 0
        with open(path, "a", encoding="utf-8") as f:
            if new:
                f.write("# Why an MQTT 5.0 statement has no covering test. Hand-maintained; read by\n"
                        "# scripts/conformance.py. Columns (tab-separated): id, reason. Shown in\n"
                        "# docs/conformance.md only while no test cites the statement.\n"
                        "id\treason\n")
            for s in statements5:
                if s["id"] in covered or s["id"] in notes:
                    continue
                reason = CLIENT_ONLY_NOTE if s["binds"] == "Client" else DEFAULT_NOTE
                f.write(f"{s['id']}\t{reason}\n")
                added += 1
        print(f"notes.tsv: added {added} line(s)")
        notes = load_notes()

    text = build(statements5, known5, known311, citations, notes)
    bad = [c for c in citations if c.kind == "unknown"]
    for c in citations:
        if c.kind == "placeholder":
            print(f"warning: {c.path}:{c.line}: {c.raw} has no statement number", file=sys.stderr)

    for e in scan_errors:
        print(f"error: {e}", file=sys.stderr)
    if args.check:
        failed = bool(scan_errors)
        for c in bad:
            print(f"error: {c.path}:{c.line}: {c.raw} is in neither the MQTT 5.0 nor the 3.1.1 list", file=sys.stderr)
            failed = True
        current = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else None
        if current != text:
            print("error: docs/conformance.md is stale; run: python3 scripts/conformance.py", file=sys.stderr)
            failed = True
        if failed:
            return 1
        print("docs/conformance.md is up to date; all cited ids are known")
        return 0

    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    for c in bad:
        print(f"warning: {c.path}:{c.line}: {c.raw} is in neither the MQTT 5.0 nor the 3.1.1 list", file=sys.stderr)
    if scan_errors:
        return 1
    cov = sum(1 for s in statements5 if any(c.id == s["id"] and (c.test or c.runners) and c.version in ("5.0", "both")
                                            for c in citations if c.kind == "id"))
    print(f"wrote docs/conformance.md: {len(statements5)} statements, {cov} covered by a test, "
          f"{len(citations)} citations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
