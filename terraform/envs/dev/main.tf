# dev: what it deploys is ../../system (every variable is declared and described there); this root
# gives dev's values, configures the providers (only a root may) and keeps the state (backend.hcl).
# tables.json beside this file is dev's table list. Values marked REPLACE-ME must be set before the
# first apply (docs/deploy.md).

terraform {
  # Versions: ../../system/versions.tf.
  required_providers {
    aws       = { source = "hashicorp/aws" }
    snowflake = { source = "snowflakedb/snowflake" }
  }

  # Partial configuration: bucket, key and region come from backend.hcl
  # (`terraform init -backend-config=backend.hcl`). use_lockfile = S3-native state locking.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

variable "terraform_mode" {
  description = "Who Terraform is in Snowflake. plan: the plan user with the plan role, for every provider alias (CI plans); apply: the deploy user with the owner role and ACCOUNTADMIN. Ephemeral: a saved plan does not carry it, so the apply of a plan made in plan mode sets it again (TF_VAR_terraform_mode=apply)."
  type        = string
  ephemeral   = true

  validation {
    condition     = contains(["plan", "apply"], var.terraform_mode)
    error_message = "terraform_mode must be plan or apply."
  }
}

# What the provider blocks connect to and as whom, in dev.
locals {
  aws_region = "us-east-1" # Aurora's: bucket, Lambdas, state machine
  snowflake = {
    organization_name = "REPLACE-ME"
    account_name      = "REPLACE-ME"
    deploy_user       = "TERRAFORM"      # needs ACCOUNTADMIN and the owner role
    owner_role        = "SYSADMIN"       # creates and owns the schema objects, runs the tasks
    plan_user         = "TERRAFORM_PLAN" # granted plan_role only
    plan_role         = "AURORA_SYNC_TERRAFORM_PLAN"
  }
}

provider "aws" {
  region = local.aws_region

  default_tags {
    tags = module.system.tags
  }
}

# Snowflake authenticates with a key pair: SNOWFLAKE_PRIVATE_KEY (and SNOWFLAKE_PRIVATE_KEY_PASSPHRASE)
# come from the environment of whoever runs terraform (CI: its secret store), never from .tf files.
# In plan mode both blocks are the read-only plan user and role, so the key a pull request's plan
# holds can change nothing; only an apply is the deploy user (docs/deploy.md, "Plan identities").
provider "snowflake" {
  organization_name        = local.snowflake.organization_name
  account_name             = local.snowflake.account_name
  user                     = var.terraform_mode == "plan" ? local.snowflake.plan_user : local.snowflake.deploy_user
  role                     = var.terraform_mode == "plan" ? local.snowflake.plan_role : local.snowflake.owner_role
  authenticator            = "SNOWFLAKE_JWT"
  preview_features_enabled = module.system.snowflake_preview_features
}

provider "snowflake" {
  alias                    = "accountadmin"
  organization_name        = local.snowflake.organization_name
  account_name             = local.snowflake.account_name
  user                     = var.terraform_mode == "plan" ? local.snowflake.plan_user : local.snowflake.deploy_user
  role                     = var.terraform_mode == "plan" ? local.snowflake.plan_role : "ACCOUNTADMIN"
  authenticator            = "SNOWFLAKE_JWT"
  preview_features_enabled = module.system.snowflake_preview_features
}

module "system" {
  source = "../../system"
  providers = {
    aws                    = aws
    snowflake              = snowflake
    snowflake.accountadmin = snowflake.accountadmin
  }

  environment        = "dev"
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

  snowflake_owner_role = local.snowflake.owner_role
  snowflake_plan_role  = local.snowflake.plan_role
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
}
