#!/usr/bin/env bash
# Side-by-side benchmark: casb scan vs Presidio (pattern recognizers on a blank spaCy
# pipeline, offline) vs detect-secrets vs Kingfisher, on a generated corpus, and casb vs
# Kingfisher on one file of business prose pinned to one core. Run by hand, not by CI:
#
#   bench/dlp/compare.sh [--text-mb 8] [--rss-mb 1024] [--speed-mb 256]
#
# Installs what it needs: a virtualenv in bench/dlp/.venv-bench with presidio-analyzer,
# detect-secrets and kingfisher-bin from PyPI (spaCy comes with presidio; no model is
# downloaded; Kingfisher runs with --no-validate, so nothing leaves the machine), and a
# release build of the casb command. Prints precision, recall, F1 and MB/s per tool (casb
# and Kingfisher per confidence tier) and writes the tables to bench/dlp/results/latest.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
text_mb=8
rss_mb=1024
speed_mb=256
while [ $# -gt 0 ]; do
  case "$1" in
    --text-mb) text_mb="$2"; shift 2 ;;
    --rss-mb) rss_mb="$2"; shift 2 ;;
    --speed-mb) speed_mb="$2"; shift 2 ;;
    *) echo "usage: $0 [--text-mb N] [--rss-mb N] [--speed-mb N]" >&2; exit 2 ;;
  esac
done

venv="$here/.venv-bench"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
fi
"$venv/bin/pip" install --quiet presidio-analyzer detect-secrets kingfisher-bin

target="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -p casb-cli)
casb="$target/release/casb"

corpus="$here/corpus"
if [ ! -f "$corpus/labels.jsonl" ]; then
  python3 "$here/gen_corpus.py" "$corpus" --text-mb "$text_mb"
fi
mkdir -p "$here/results"
"$venv/bin/python" "$here/compare.py" --corpus "$corpus" --casb "$casb" \
  --kingfisher "$venv/bin/kingfisher" --speed-mb "$speed_mb" --rss-mb "$rss_mb" --markdown "$here/results/latest.md"
