#!/usr/bin/env bash
# `make test`: the whole suite. The `apply` tier (terraform apply/plan/destroy against moto, about two
# minutes, nearly all of it the provider waiting) runs beside the rest instead of after it, so the
# suite's wall time is the longer of the two, not their sum. Both must pass; the apply tier's output
# is printed after the rest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pytest=(.venv/bin/pytest -q "$@")
apply_log="$(mktemp)"
trap 'rm -f "$apply_log"' EXIT

"${pytest[@]}" -m apply >"$apply_log" 2>&1 &
apply_pid=$!
"${pytest[@]}" -m "not apply"
rest=$?
wait "$apply_pid"
apply=$?

echo "---- apply tier (pytest -m apply) ----"
cat "$apply_log"
# 5: no test selected (e.g. a checkout without the apply tests); not a failure of this tier.
if [[ $apply -eq 5 ]]; then apply=0; fi
if [[ $rest -ne 0 ]]; then exit "$rest"; fi
exit "$apply"
