terraform {
  required_version = ">= 1.5.0"

  required_providers {
    snowflake = {
      source                = "snowflakedb/snowflake"
      version               = ">= 2.20.0, < 3.0.0"
      configuration_aliases = [snowflake.accountadmin]
    }
  }
}
