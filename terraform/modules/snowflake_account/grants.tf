# The schema objects' owner (var.owner_role_name) uses the integrations; the Lambdas' service role
# reads watermarks and history, nothing else.
#
# Grants on existing objects run as their owner (the default provider's role). Future grants run as
# ACCOUNTADMIN: in a standard (not managed-access) schema, GRANT ... ON FUTURE ... IN SCHEMA needs the
# global MANAGE GRANTS privilege, which SYSADMIN lacks, so the first apply would fail (docs/deploy.md).

resource "snowflake_grant_privileges_to_account_role" "owner_uses_storage_integration" {
  provider          = snowflake.accountadmin
  account_role_name = var.owner_role_name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "INTEGRATION"
    object_name = snowflake_storage_integration_aws.exports.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "owner_uses_error_integration" {
  count             = var.task_error_notifications.enabled ? 1 : 0
  provider          = snowflake.accountadmin
  account_role_name = var.owner_role_name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "INTEGRATION"
    object_name = snowflake_notification_integration.errors[0].name
  }
}

resource "snowflake_grant_privileges_to_account_role" "owner_executes_tasks" {
  provider          = snowflake.accountadmin
  account_role_name = var.owner_role_name
  privileges        = ["EXECUTE TASK"]
  on_account        = true
}

resource "snowflake_account_role" "service" {
  provider = snowflake.accountadmin
  name     = var.service_role_name
  comment  = "aurora-snowflake-sync Lambdas: FINAL watermarks, COPY/TASK history, sampled rows, credits"
}

resource "snowflake_grant_account_role" "service_to_user" {
  count     = var.service_user_name == null ? 0 : 1
  provider  = snowflake.accountadmin
  role_name = snowflake_account_role.service.name
  user_name = var.service_user_name
}

resource "snowflake_grant_privileges_to_account_role" "service_database" {
  account_role_name = snowflake_account_role.service.name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "DATABASE"
    object_name = snowflake_database.sync.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "service_warehouse" {
  account_role_name = snowflake_account_role.service.name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "WAREHOUSE"
    object_name = snowflake_warehouse.tasks.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "service_schemas" {
  for_each          = { staging = snowflake_schema.staging.fully_qualified_name, final = snowflake_schema.final.fully_qualified_name }
  account_role_name = snowflake_account_role.service.name
  privileges        = ["USAGE"]
  on_schema {
    schema_name = each.value
  }
}

resource "snowflake_grant_privileges_to_account_role" "service_reads_tables" {
  for_each          = { staging = snowflake_schema.staging.fully_qualified_name, final = snowflake_schema.final.fully_qualified_name }
  provider          = snowflake.accountadmin
  account_role_name = snowflake_account_role.service.name
  privileges        = ["SELECT"]
  on_schema_object {
    future {
      object_type_plural = "TABLES"
      in_schema          = each.value
    }
  }
}

resource "snowflake_grant_privileges_to_account_role" "service_monitors" {
  for_each          = toset(["PIPES", "TASKS"])
  provider          = snowflake.accountadmin
  account_role_name = snowflake_account_role.service.name
  privileges        = ["MONITOR"]
  on_schema_object {
    future {
      object_type_plural = each.value
      in_schema          = snowflake_schema.staging.fully_qualified_name
    }
  }
}

# The reconciler's cost check reads each table's credits of a day from SNOWFLAKE.ACCOUNT_USAGE
# (aurora_sync.adapters.snowflake_history, pipe_credits / merge_credits): PIPE_USAGE_HISTORY and
# QUERY_ATTRIBUTION_HISTORY are USAGE_VIEWER's, PIPES (which database a pipe is in) OBJECT_VIEWER's
# ("SNOWFLAKE database roles"). Read-only views of the whole account's usage and object metadata: no
# rows of any table, no warehouse. Only ACCOUNTADMIN grants the SNOWFLAKE database's roles.
resource "snowflake_grant_database_role" "service_reads_usage" {
  for_each           = toset(["USAGE_VIEWER", "OBJECT_VIEWER"])
  provider           = snowflake.accountadmin
  database_role_name = "\"SNOWFLAKE\".\"${each.value}\""
  parent_role_name   = snowflake_account_role.service.name
}
