# dev. Values marked REPLACE-ME must be set before the first apply (docs/deploy.md).
environment        = "dev"
aws_region         = "us-east-1"
export_bucket_name = "REPLACE-ME-aurora-snowflake-sync-dev-exports"
runbook_url        = "https://REPLACE-ME/aurora-snowflake-sync/blob/main/docs/runbook.md"

lambda_subnet_ids         = ["subnet-REPLACE-ME-a", "subnet-REPLACE-ME-b"]
lambda_security_group_ids = ["sg-REPLACE-ME"]
# Routes to the AWS APIs when the VPC has no NAT gateway (docs/deploy.md, "Network"); Snowflake and
# Vault need their own route either way.
# network_endpoints = {
#   vpc_id          = "vpc-REPLACE-ME"
#   route_table_ids = ["rtb-REPLACE-ME"] # the Lambdas' route tables, and Aurora's for aurora_s3
# }

database = {
  host = "REPLACE-ME.cluster-xxxx.us-east-1.rds.amazonaws.com"
  name = "app"
}

vault = {
  addr                  = "https://vault.REPLACE-ME:8200"
  role                  = "aurora-snowflake-sync-dev"
  secret_path           = "aurora-snowflake-sync/dev/aurora"
  snowflake_secret_path = "aurora-snowflake-sync/dev/snowflake"
}

snowflake_organization   = "REPLACE-ME"
snowflake_account_name   = "REPLACE-ME"
snowflake_terraform_user = "TERRAFORM"
snowflake_plan_user      = "TERRAFORM_PLAN"
snowflake_connection = {
  account      = "REPLACE-ME-orgname-account"
  database     = "AURORA_SYNC_DEV"
  service_user = "AURORA_SYNC_DEV"
}

exporter = {
  export_mode = "aurora_s3"
}

sync = {
  max_concurrency = 2
}
