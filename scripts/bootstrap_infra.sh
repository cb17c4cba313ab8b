#!/usr/bin/env bash
# Tools of the infra test tier (tests/infra), called by scripts/bootstrap.sh. Idempotent and quick
# when nothing changed (one stamp per tool, keyed on its lock file):
#   1. .venv-infra: checkov and its HCL parser, from requirements-infra.lock. Its own venv because
#      checkov pins an old boto3 that would clash with .venv's.
#   2. tests/infra/asl/node_modules: asl-validator, `npm ci` from the committed package-lock.json.
# terraform itself is not installed here: the infra tests use it (and a provider mirror) when present
# and skip with a message when not.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { echo "bootstrap-infra: $*" >&2; }

quietly() {
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    say "FAILED ($rc): $*"
    tail -n 40 "$log" >&2
    rm -f "$log"
    exit "$rc"
  fi
  rm -f "$log"
}

# --- 1. checkov venv --------------------------------------------------------------------------------

VENV=.venv-infra
LOCK=requirements-infra.lock
STAMP="$VENV/.bootstrap-stamp"
want="lock=$(sha256sum "$LOCK" | cut -d' ' -f1)"
if ! [[ -f $STAMP && $(<"$STAMP") == "$want" && -x $VENV/bin/checkov ]]; then
  py=""
  for candidate in "${PYTHON:-}" /usr/bin/python3.11 python3.11 python3; do
    [[ -n $candidate ]] && command -v "$candidate" >/dev/null || continue
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      py=$(command -v "$candidate")
      break
    fi
  done
  [[ -n $py ]] || { say "ERROR: no Python 3.11 with venv for $VENV"; exit 1; }
  say "installing $LOCK into $VENV (checkov)"
  rm -rf "$VENV"
  quietly "$py" -m venv "$VENV"
  quietly "$VENV/bin/python" -m pip install -q --upgrade pip
  quietly "$VENV/bin/python" -m pip install -q --no-deps -r "$LOCK"
  echo "$want" >"$STAMP"
fi

# --- 2. asl-validator (npm) -------------------------------------------------------------------------

NODE_DIR=tests/infra/asl
NODE_STAMP="$NODE_DIR/node_modules/.bootstrap-stamp"
want_node="lock=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if ! [[ -f $NODE_STAMP && $(<"$NODE_STAMP") == "$want_node" ]]; then
  if command -v npm >/dev/null; then
    say "installing asl-validator (npm ci in $NODE_DIR)"
    quietly npm ci --prefix "$NODE_DIR" --no-audit --no-fund --ignore-scripts
    echo "$want_node" >"$NODE_STAMP"
  else
    say "WARNING: npm not found; the ASL validation test will fail until Node.js/npm are installed"
  fi
fi
