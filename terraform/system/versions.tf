terraform {
  required_version = ">= 1.10.0" # the env roots' ephemeral terraform_mode

  # The env roots configure these (only a root may) and pass all three: the default snowflake
  # provider (the owner role) and the accountadmin alias (integrations, the Lambdas' role, future grants).
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
    snowflake = {
      source                = "snowflakedb/snowflake"
      version               = ">= 2.20.0, < 3.0.0"
      configuration_aliases = [snowflake.accountadmin]
    }
  }
}
