terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
    snowflake = {
      source  = "snowflakedb/snowflake"
      version = ">= 2.20.0, < 3.0.0"
    }
  }

  # Partial configuration: bucket, key and region come from backend.hcl
  # (`terraform init -backend-config=backend.hcl`). use_lockfile = S3-native state locking.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
