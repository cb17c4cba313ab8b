# terraform init -backend-config=backend.hcl
# The state bucket belongs to the platform account setup, not to this stack.
bucket = "REPLACE-ME-terraform-state"
key    = "aurora-snowflake-sync/dev/terraform.tfstate"
region = "us-east-1"
