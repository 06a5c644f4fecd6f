#!/usr/bin/env python3
"""Side-by-side accuracy and speed: casb scan vs Presidio (pattern recognizers, blank spaCy
pipeline, offline) vs detect-secrets vs Kingfisher, on the corpus made by gen_corpus.py.

    python compare.py --corpus DIR --casb PATH_TO_CASB_BINARY
                      [--tools casb,presidio,detect-secrets,kingfisher] [--kingfisher PATH]
                      [--rss-mb 1024] [--speed-mb 256] [--markdown OUT.md]

casb is scored at each confidence tier (findings at or above low, medium, high), Kingfisher
at its own confidence levels (`--confidence low` and its default, medium), both from one run.
--speed-mb times casb and Kingfisher on the same file of business prose, pinned to one core.

Matching: a finding is a true positive when its span overlaps a planted value of the same
type; for secrets any secret-type finding overlapping a planted secret counts (secret
scanners name types differently). casb is scored strictly: every finding that overlaps no
planted value is a false positive, whatever its detector. Presidio and detect-secrets are
scored on the entity types that map to planted types; their other output (DATE_TIME, URL,
US_BANK_NUMBER, US_DRIVER_LICENSE, ...) is ignored, except that detect-secrets' generic
findings (entropy, keyword) count as false positives when they overlap no planted secret.
"""
import argparse
import bisect
import collections
import json
import os
import shutil
import subprocess
import sys
import time

SECRET_TYPES = {
    "aws_access_key_id", "aws_secret_access_key", "github_token", "slack_token", "stripe_secret_key", "google_api_key",
    "sendgrid_api_key", "npm_token", "jwt", "password_assignment", "private_key",
}

PRESIDIO_MAP = {
    "CREDIT_CARD": "credit_card", "US_SSN": "us_ssn", "IBAN_CODE": "iban", "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone_number", "US_ITIN": "us_itin", "US_PASSPORT": "us_passport", "IP_ADDRESS": "ip_address",
    "UK_NHS": "uk_nhs_number", "ABA_ROUTING_NUMBER": "us_bank_routing", "UK_NINO": "uk_nino", "CA_SIN": "ca_sin",
}

DETECT_SECRETS_MAP = {
    "GitHub Token": "github_token", "Slack Token": "slack_token", "Stripe Access Key": "stripe_secret_key",
    "JSON Web Token": "jwt", "Private Key": "private_key", "SendGrid API Key": "sendgrid_api_key", "NPM tokens": "npm_token",
    "Secret Keyword": "password_assignment",
}


def load_labels(corpus):
    labels = collections.defaultdict(list)
    with open(os.path.join(corpus, "labels.jsonl")) as f:
        for line in f:
            l = json.loads(line)
            labels[l["file"]].append(l)
    return labels


def text_files(corpus):
    root = os.path.join(corpus, "text")
    return sorted(os.path.join("text", n) for n in os.listdir(root))


# ---- tools ---------------------------------------------------------------------------------

TIER_ORDER = {"low": 0, "medium": 1, "high": 2}


def run_casb(corpus, binary, target, min_confidence="medium"):
    start = time.perf_counter()
    cmd = [binary, "scan", "--format", "json", "--min-confidence", min_confidence, os.path.join(corpus, target)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"casb scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
    findings = []
    for line in proc.stdout.splitlines():
        v = json.loads(line)
        rel = os.path.relpath(v["path"], corpus)
        findings.append({"file": rel, "type": v["detector"], "start": v["start"], "end": v["end"], "part": v.get("part"),
                         "strict": True, "tier": TIER_ORDER[v["confidence"]]})
    return findings, elapsed


def kingfisher_command(binary, path, confidence="low"):
    # One thread, no live validation (nothing leaves the machine), the working tree only,
    # no size limit: the same work casb scan does.
    return [binary, "scan", path, "--no-validate", "--format", "jsonl", "--git-history", "none",
            "--jobs", "1", "--confidence", confidence, "--no-limits"]


def run_kingfisher(corpus, binary, files):
    """Kingfisher reports line and 0-based column; the value is found in that line to get
    offsets in the file (characters, as casb reports)."""
    start = time.perf_counter()
    proc = subprocess.run(kingfisher_command(binary, os.path.join(corpus, "text")), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 200, 205):
        sys.exit(f"kingfisher failed ({proc.returncode}): {proc.stderr[-2000:]}")
    contents = {}
    findings = []
    for line in proc.stdout.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        f = v.get("finding") if isinstance(v, dict) else None
        if not f:
            continue
        rel = os.path.relpath(os.path.abspath(f["path"]), os.path.abspath(corpus))
        if rel not in contents:
            with open(os.path.join(corpus, rel), encoding="utf-8") as h:
                text = h.read()
            starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
            contents[rel] = (text, starts)
        text, starts = contents[rel]
        line_no = int(f.get("line", 1))
        begin = starts[line_no - 1] if 0 < line_no <= len(starts) else 0
        end_of_line = text.find("\n", begin)
        end_of_line = len(text) if end_of_line < 0 else end_of_line
        snippet = f.get("snippet") or ""
        pos = text.find(snippet, begin, end_of_line) if snippet else -1
        if pos < 0:
            pos = begin + int(f.get("column_start", 0))
        tier = 2 if f.get("confidence") == "high" else 1 if f.get("confidence") == "medium" else 0
        findings.append({"file": rel, "type": "secret:" + v["rule"]["id"], "start": pos, "end": pos + max(1, len(snippet)),
                         "strict": True, "tier": tier})
    return findings, elapsed


PRESIDIO_CHUNK = 8192


def line_chunks(text, size):
    """(offset, chunk) pairs of at most `size` characters, cut after a newline when there is one."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            if cut > start:
                end = cut + 1
        yield start, text[start:end]
        start = end


def run_presidio(corpus, files):
    import logging
    logging.disable(logging.WARNING)  # tldextract's offline fallback logs a traceback
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacy(SpacyNlpEngine):
        """Presidio's spaCy engine on `spacy.blank("en")`: tokenizer only, no model download."""

        def load(self):
            self.nlp = {"en": spacy.blank("en")}

    nlp = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    analyzer.analyze("warm up 4111 1111 1111 1111", language="en")
    findings = []
    start = time.perf_counter()
    for rel in files:
        with open(os.path.join(corpus, rel), encoding="utf-8") as f:
            text = f.read()
        # Presidio's time grows with the square of the matches in one call (a 160 KB CSV
        # takes minutes), so it gets the text in line-aligned chunks, as one would deploy it.
        for base, chunk in line_chunks(text, PRESIDIO_CHUNK):
            for r in analyzer.analyze(chunk, language="en"):
                findings.append({"file": rel, "type": PRESIDIO_MAP.get(r.entity_type), "start": base + r.start, "end": base + r.end, "strict": False})
    return findings, time.perf_counter() - start


def run_detect_secrets(corpus, files):
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    findings = []
    start = time.perf_counter()
    with default_settings():
        secrets = SecretsCollection()
        for rel in files:
            secrets.scan_file(os.path.join(corpus, rel))
    elapsed = time.perf_counter() - start
    line_starts = {}
    for filename, secret in secrets:
        rel = os.path.relpath(filename, corpus)
        if rel not in line_starts:
            with open(os.path.join(corpus, rel), encoding="utf-8") as f:
                content = f.read()
            starts = [0]
            for i, c in enumerate(content):
                if c == "\n":
                    starts.append(i + 1)
            line_starts[rel] = (starts, content)
        starts, content = line_starts[rel]
        line_no = secret.line_number
        line_begin = starts[line_no - 1] if 0 < line_no <= len(starts) else 0
        line_end = content.find("\n", line_begin)
        line_end = len(content) if line_end < 0 else line_end
        value = secret.secret_value or ""
        pos = content.find(value, line_begin, line_end) if value else -1
        s, e = (pos, pos + len(value)) if pos >= 0 else (line_begin, line_end)
        mapped = DETECT_SECRETS_MAP.get(secret.type)
        if secret.type == "AWS Access Key":
            mapped = "aws_access_key_id" if value.startswith(("AKIA", "ASIA")) else "aws_secret_access_key"
        findings.append({"file": rel, "type": mapped or "secret:other", "start": s, "end": e, "strict": True})
    return findings, elapsed


# ---- scoring -------------------------------------------------------------------------------

def score(findings, labels, files):
    """Per-type (tp, fp, fn) and overall, following the module docstring."""
    per = collections.defaultdict(lambda: [0, 0, 0])
    overall = [0, 0, 0]
    by_file = collections.defaultdict(list)
    for f in findings:
        by_file[f["file"]].append(f)
    for rel in files:
        gold = sorted(labels.get(rel, []), key=lambda g: g["start"])
        starts = [g["start"] for g in gold]
        used = [False] * len(gold)
        for f in sorted(by_file.get(rel, []), key=lambda x: x["start"]):
            t = f["type"]
            if t is None:
                continue  # an entity type with no planted counterpart (lenient tools only)
            hit = None
            # Planted values do not overlap, so walking left from the first label that
            # starts after the finding's end visits only candidates.
            i = bisect.bisect_left(starts, f["end"]) - 1
            while i >= 0 and gold[i]["end"] > f["start"]:
                g = gold[i]
                same = g["type"] == t or (g["type"] in SECRET_TYPES and (t in SECRET_TYPES or t.startswith("secret:")))
                if same:
                    hit = i
                    break
                i -= 1
            if hit is not None:
                if not used[hit]:
                    used[hit] = True
                    per[gold[hit]["type"]][0] += 1
                    overall[0] += 1
                # a second finding on the same value is neither new nor wrong
                continue
            if t in per or t in SECRET_TYPES or not t.startswith("secret:"):
                per[t][1] += 1
            overall[1] += 1
        for i, g in enumerate(gold):
            if not used[i]:
                per[g["type"]][2] += 1
                overall[2] += 1
    return per, overall


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1


def supported_types(tool):
    if tool.startswith("casb"):
        return None  # all
    if tool.startswith("kingfisher"):
        return set(SECRET_TYPES)
    if tool == "presidio":
        return set(PRESIDIO_MAP.values())
    return set(DETECT_SECRETS_MAP.values()) | {"aws_access_key_id", "aws_secret_access_key"}


def peak_rss_of(cmd):
    """Peak RSS (MB) of `cmd` itself. ru_maxrss from wait4 would count the pages of this
    Python process (with Presidio loaded) that the child had between fork and exec, so read
    the kernel's high-water mark of the exec'd program instead, until it exits."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kb = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.05)
    return peak_kb / 1024.0, proc.returncode


def business_prose(path, size):
    """The engine benchmark's text (shared/dlp/benches/engine.rs), byte for byte: English-like
    words, a number-bearing look-alike in one word of 23, a planted value every ~4 KiB."""
    words = ("the quarterly report shows revenue growth of percent in region customer meeting scheduled for and "
             "with team project deadline review please send update invoice account contact support about "
             "service order shipped today").split()
    extras = ["on 2024-03-15", "at 10:30", "version 2.4.1", "https://example.com/docs/page", "total $1,234.56",
              "ref INV-20240315", "room 42", "build 20240315.1", "id 550e8400-e29b-41d4-a716-446655440000"]
    planted = ["card 4111 1111 1111 1111", "SSN 536-22-1234", "key AKIAZ3MSJV4WWNKWW5FG",
               "IBAN GB82 WEST 1234 5698 7654 32", "mail jane.doe@example.org", "call (415) 555-2671"]
    mask = (1 << 64) - 1
    state = 0x2545F4914F6CDD1D
    out = bytearray()
    since_plant = 0
    while len(out) < size:
        state ^= (state << 13) & mask
        state ^= state >> 7
        state ^= (state << 17) & mask
        r = state
        piece = extras[(r >> 8) % len(extras)] if r % 23 == 0 else words[(r >> 8) % len(words)]
        out += piece.encode() + (b"\n" if r % 11 == 0 else b" ")
        since_plant += len(piece) + 1
        if since_plant > 4096:
            out += planted[(r >> 16) % len(planted)].encode() + b" "
            since_plant = 0
    with open(path, "wb") as f:
        f.write(bytes(out[:size]))


def timed_on_one_core(cmd):
    """Wall time of `cmd` pinned to CPU 0 (taskset), best of three."""
    pinned = (["taskset", "-c", "0"] if shutil.which("taskset") else []) + cmd
    best = None
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(pinned, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def speed_on_one_core(args, corpus):
    path = os.path.join(corpus, f"prose-{args.speed_mb}MiB.txt")
    if not os.path.exists(path) or os.path.getsize(path) != args.speed_mb << 20:
        business_prose(path, args.speed_mb << 20)
    size_mib = args.speed_mb
    # Kingfisher compiles its rules into a cache on first use: warm it outside the timing.
    subprocess.run(kingfisher_command(args.kingfisher, path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    casb = timed_on_one_core([args.casb, "scan", "--format", "json", path])
    casb_low = timed_on_one_core([args.casb, "scan", "--format", "json", "--min-confidence", "low", path])
    king = timed_on_one_core(kingfisher_command(args.kingfisher, path))
    king_medium = timed_on_one_core(kingfisher_command(args.kingfisher, path, "medium"))
    return [
        f"\nOne file of business prose ({size_mib} MiB), one core (taskset), best of three, whole command:\n",
        "| command | seconds | MiB/s | Kingfisher's time / this |",
        "|---|---:|---:|---:|",
        f"| casb scan (default, medium) | {casb:.2f} | {size_mib / casb:.0f} | {king / casb:.1f}x |",
        f"| casb scan --min-confidence low | {casb_low:.2f} | {size_mib / casb_low:.0f} | {king / casb_low:.1f}x |",
        f"| kingfisher scan --confidence low | {king:.2f} | {size_mib / king:.0f} | 1.0x |",
        f"| kingfisher scan (default, medium) | {king_medium:.2f} | {size_mib / king_medium:.0f} | {king / king_medium:.1f}x |",
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--casb", required=True, help="the casb binary (release build)")
    ap.add_argument("--tools", default="casb,presidio,detect-secrets,kingfisher")
    ap.add_argument("--kingfisher", default="kingfisher", help="the kingfisher binary (kingfisher-bin on PyPI)")
    ap.add_argument("--speed-mb", type=int, default=0, help="time casb and Kingfisher on one core over this much business prose")
    ap.add_argument("--rss-mb", type=int, default=0, help="also measure casb peak RSS on a text file of this size")
    ap.add_argument("--markdown")
    args = ap.parse_args()

    corpus = args.corpus
    labels = load_labels(corpus)
    files = text_files(corpus)
    total_bytes = sum(os.path.getsize(os.path.join(corpus, f)) for f in files)
    tools = args.tools.split(",")
    results = {}
    rows = []
    for tool in tools:
        print(f"running {tool} ...", file=sys.stderr, flush=True)
        if tool in ("casb", "kingfisher"):
            # One run at the lowest tier; each tier is scored on the findings at or above it.
            if tool == "casb":
                findings, elapsed = run_casb(corpus, args.casb, "text", "low")
                tiers = [("low", 0), ("medium", 1), ("high", 2)]
            else:
                findings, elapsed = run_kingfisher(corpus, args.kingfisher, files)
                tiers = [("low", 0), ("medium", 1)]
            for name, level in tiers:
                label = f"{tool} ({name})"
                per, overall = score([f for f in findings if f["tier"] >= level], labels, files)
                results[label] = (per, overall, elapsed)
                rows.append(label)
            continue
        if tool == "presidio":
            findings, elapsed = run_presidio(corpus, files)
        elif tool == "detect-secrets":
            findings, elapsed = run_detect_secrets(corpus, files)
        else:
            sys.exit(f"unknown tool {tool}")
        per, overall = score(findings, labels, files)
        results[tool] = (per, overall, elapsed)
        rows.append(tool)
    tools = rows

    all_types = sorted({l["type"] for ls in labels.values() for l in ls})
    out = []
    out.append(f"Corpus: {len(files)} text files, {total_bytes / 1e6:.1f} MB, {sum(len(v) for v in labels.values())} planted values\n")
    out.append("| tool | MB/s | precision | recall | F1 | F1 on its supported types |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for tool in tools:
        per, overall, elapsed = results[tool]
        p, r, f1 = prf(*overall)
        sup = supported_types(tool)
        if sup is None:
            f1s = f1
        else:
            tp = sum(per[t][0] for t in sup if t in per)
            fp = overall[1]
            fn = sum(per[t][2] for t in sup if t in per)
            f1s = prf(tp, fp, fn)[2]
        out.append(f"| {tool} | {total_bytes / 1e6 / elapsed:.2f} | {p:.3f} | {r:.3f} | {f1:.3f} | {f1s:.3f} |")
    out.append("")
    out.append("Per type, F1 (precision / recall); `-` = type not supported by the tool:\n")
    out.append("| type | " + " | ".join(tools) + " |")
    out.append("|---|" + "---|" * len(tools))
    for t in all_types:
        row = [t]
        for tool in tools:
            per, _, _ = results[tool]
            sup = supported_types(tool)
            if sup is not None and t not in sup:
                row.append("-")
                continue
            tp, fp, fn = per.get(t, [0, 0, 0])
            p, r, f1 = prf(tp, fp, fn)
            row.append(f"{f1:.3f} ({p:.2f} / {r:.2f})")
        out.append("| " + " | ".join(row) + " |")
    if "casb (medium)" in results:
        per, _, _ = results["casb (medium)"]
        extra = {t: v[1] for t, v in per.items() if t not in all_types and v[1]}
        if extra:
            out.append("\ncasb findings of detectors with no planted type (counted as false positives): " + ", ".join(f"{t}={n}" for t, n in sorted(extra.items())))

    if "casb (medium)" in tools and os.path.isdir(os.path.join(corpus, "formats")):
        with open(os.path.join(corpus, "formats.jsonl")) as f:
            expected = [json.loads(l) for l in f]
        findings, _ = run_casb(corpus, args.casb, "formats")
        got = collections.defaultdict(collections.Counter)
        for fd in findings:
            got[fd["file"]][fd["type"]] += 1
        per_format = collections.defaultdict(lambda: [0, 0, 0])  # planted, found, extra
        for e in expected:
            want = collections.Counter(e["kinds"])
            have = got.get(e["file"], collections.Counter())
            found = sum(min(have[k], n) for k, n in want.items())
            extra = sum(max(0, have[k] - want.get(k, 0)) for k in have)
            stats = per_format[e["format"]]
            stats[0] += sum(want.values())
            stats[1] += found
            stats[2] += extra
        out.append("\ncasb on document and archive formats (planted values found):\n")
        out.append("| format | planted | found | recall | unexpected findings |")
        out.append("|---|---:|---:|---:|---:|")
        for fmt, (planted, found, extra) in sorted(per_format.items()):
            out.append(f"| {fmt} | {planted} | {found} | {found / planted if planted else 0:.3f} | {extra} |")

    if args.speed_mb:
        out.extend(speed_on_one_core(args, corpus))

    if args.rss_mb and "casb (medium)" in tools:
        big = os.path.join(corpus, f"big-{args.rss_mb}MB.txt")
        if not os.path.exists(big) or os.path.getsize(big) < args.rss_mb * 1_000_000:
            with open(big, "wb") as w:
                written = 0
                while written < args.rss_mb * 1_000_000:
                    for rel in files:
                        with open(os.path.join(corpus, rel), "rb") as r:
                            data = r.read()
                        w.write(data)
                        written += len(data)
                        if written >= args.rss_mb * 1_000_000:
                            break
        start = time.perf_counter()
        rss, code = peak_rss_of([args.casb, "scan", "--format", "json", big])
        elapsed = time.perf_counter() - start
        size = os.path.getsize(big)
        out.append(f"\ncasb scan of one {size / 1e6:.0f} MB text file: peak RSS {rss:.0f} MB, {size / 1e6 / elapsed:.0f} MB/s (exit {code})")

    text = "\n".join(out)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
