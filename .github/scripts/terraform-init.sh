#!/usr/bin/env bash
# terraform init for one env root, the same way in every workflow job.
#   .github/scripts/terraform-init.sh terraform/envs/dev            # with the S3 backend (backend.hcl)
#   .github/scripts/terraform-init.sh terraform/envs/dev --no-backend   # validate only
# - Backend: the root's backend.hcl, then $TF_INIT_ARGS (a GitHub variable, e.g.
#   "-backend-config=bucket=..."), which comes later and so wins.
# - Providers: with a committed .terraform.lock.hcl, init may not change it (-lockfile=readonly), so a
#   plan uses exactly the reviewed provider versions. Without one, init picks versions from the
#   constraints and says so in a warning; the plan job ships the lock file it used to the apply job.
set -euo pipefail

dir=${1:?usage: terraform-init.sh <env dir> [--no-backend]}
mode=${2:-}
args=(-input=false)
if [[ $mode == --no-backend ]]; then
  args+=(-backend=false)
else
  [[ -f $dir/backend.hcl ]] && args+=(-backend-config=backend.hcl)
  read -ra extra <<<"${TF_INIT_ARGS:-}"
  args+=("${extra[@]}")
fi
if [[ -f $dir/.terraform.lock.hcl ]]; then
  args+=(-lockfile=readonly)
else
  echo "::warning title=No provider lock file::$dir/.terraform.lock.hcl is not committed; providers come" \
    "from the version constraints. Commit it: terraform providers lock -platform=linux_amd64"
fi
exec terraform -chdir="$dir" init "${args[@]}"
