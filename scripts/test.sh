#!/usr/bin/env bash
# `make test`: the whole suite as two pytest sessions side by side, so its wall time on this 2-core
# machine is the longer of the two rather than their sum:
#   - in the background, the integration tier (the largest: real PostgreSQL, moto, OpenBao and
#     fakesnow for every test);
#   - in the foreground, everything else (unit, e2e, infra), then the `apply` tier (terraform
#     apply/plan/destroy against moto, about three minutes, nearly all of it the provider waiting).
# The apply tier runs after the rest, not as a third session: with three sessions on two cores its
# destroy timed out waiting on moto (a Lambda permission still listed after five minutes).
# Each session starts and stops its own local stack on its own ports. All must pass; the
# integration tier's output is printed last.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pytest=(.venv/bin/pytest -q "$@")
integration_log="$(mktemp)"
trap 'rm -f "$integration_log"' EXIT

"${pytest[@]}" -m integration >"$integration_log" 2>&1 &
integration_pid=$!
"${pytest[@]}" -m "not apply and not integration"
rest=$?
echo "---- apply tier (pytest -m apply) ----"
"${pytest[@]}" -m apply
apply=$?
# 5: no test selected (e.g. a checkout without the apply tests); not a failure of this tier.
if [[ $apply -eq 5 ]]; then apply=0; fi
wait "$integration_pid"
integration=$?

echo "---- integration tier (pytest -m integration) ----"
cat "$integration_log"
for rc in "$rest" "$apply" "$integration"; do
  if [[ $rc -ne 0 ]]; then exit "$rc"; fi
done
exit 0
