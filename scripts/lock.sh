#!/usr/bin/env bash
# Re-pin requirements.lock and requirements-dev.lock from the .in files in throwaway venvs.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for pair in "requirements.in:requirements.lock" "requirements-dev.in:requirements-dev.lock"; do
  in=${pair%%:*}; out=${pair##*:}
  python3 -m venv "$tmp/v-$in"
  "$tmp/v-$in/bin/pip" install -q --upgrade pip
  "$tmp/v-$in/bin/pip" install -q -r "$in"
  { echo "# Generated from $in by scripts/lock.sh: every package pinned (Python 3.11)."
    "$tmp/v-$in/bin/pip" freeze --exclude-editable | grep -v '^pip=='; } > "$out"
done
