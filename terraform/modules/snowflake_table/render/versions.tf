# Provider-free on purpose: the per-table SQL is computed here, so tests can evaluate it offline
# (`terraform apply` on local state) and compare it with what aurora_sync.snowflake_sql renders.
terraform {
  required_version = ">= 1.5.0"
}
