# The plan role (var.plan_role_name): what every CI plan connects as (terraform_mode = "plan" in the
# env roots), including pull requests' plans, whose key anyone who can push a branch can read. Terraform
# refreshes every object in the state before it plans, and the provider drops from the plan's state an
# object it cannot SHOW (the plan then wants to create it again), so this role must see them all. Each
# grant is the weakest privilege that lets SHOW/DESCRIBE see the object: REFERENCES on tables (structure,
# not rows), MONITOR on the warehouse (no USAGE: it runs no query, so streams and stages stay unread),
# pipes and tasks, USAGE where Snowflake has nothing weaker. docs/deploy.md ("Plan identities") lists them
# with their sources. The role and its user exist before the first plan (bootstrap SQL in docs/deploy.md).

locals {
  # Future grants for the objects modules/snowflake_table creates per table. Schema-level, like the
  # service role's: where a schema has future grants for an object type, database-level ones are ignored.
  plan_role_future_grants = {
    staging_tables       = { schema = snowflake_schema.staging.fully_qualified_name, objects = "TABLES", privilege = "REFERENCES" }
    staging_stages       = { schema = snowflake_schema.staging.fully_qualified_name, objects = "STAGES", privilege = "USAGE" }
    staging_streams      = { schema = snowflake_schema.staging.fully_qualified_name, objects = "STREAMS", privilege = "SELECT" }
    staging_pipes        = { schema = snowflake_schema.staging.fully_qualified_name, objects = "PIPES", privilege = "MONITOR" }
    staging_tasks        = { schema = snowflake_schema.staging.fully_qualified_name, objects = "TASKS", privilege = "MONITOR" }
    staging_file_formats = { schema = snowflake_schema.staging.fully_qualified_name, objects = "FILE FORMATS", privilege = "USAGE" }
    final_tables         = { schema = snowflake_schema.final.fully_qualified_name, objects = "TABLES", privilege = "REFERENCES" }
  }
}

resource "snowflake_grant_privileges_to_account_role" "plan_database" {
  account_role_name = var.plan_role_name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "DATABASE"
    object_name = snowflake_database.sync.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "plan_schemas" {
  for_each          = { staging = snowflake_schema.staging.fully_qualified_name, final = snowflake_schema.final.fully_qualified_name }
  account_role_name = var.plan_role_name
  privileges        = ["USAGE"]
  on_schema {
    schema_name = each.value
  }
}

resource "snowflake_grant_privileges_to_account_role" "plan_warehouse" {
  account_role_name = var.plan_role_name
  privileges        = ["MONITOR"]
  on_account_object {
    object_type = "WAREHOUSE"
    object_name = snowflake_warehouse.tasks.name
  }
}

# The resource monitor is ACCOUNTADMIN's (only it creates them), so ACCOUNTADMIN grants MONITOR on it.
resource "snowflake_grant_privileges_to_account_role" "plan_resource_monitor" {
  provider          = snowflake.accountadmin
  account_role_name = var.plan_role_name
  privileges        = ["MONITOR"]
  on_account_object {
    object_type = "RESOURCE MONITOR"
    object_name = snowflake_resource_monitor.sync.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "plan_file_format" {
  account_role_name = var.plan_role_name
  privileges        = ["USAGE"]
  on_schema_object {
    object_type = "FILE FORMAT"
    object_name = snowflake_file_format_csv.aurora_csv.fully_qualified_name
  }
}

resource "snowflake_grant_privileges_to_account_role" "plan_merge_audit" {
  account_role_name = var.plan_role_name
  privileges        = ["REFERENCES"]
  on_schema_object {
    object_type = "TABLE"
    object_name = snowflake_table.merge_audit.fully_qualified_name
  }
}

# SHOW INTEGRATIONS and DESCRIBE INTEGRATION answer only roles with USAGE (or OWNERSHIP) on it.
resource "snowflake_grant_privileges_to_account_role" "plan_storage_integration" {
  provider          = snowflake.accountadmin
  account_role_name = var.plan_role_name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "INTEGRATION"
    object_name = snowflake_storage_integration_aws.exports.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "plan_error_integration" {
  count             = var.task_error_notifications.enabled ? 1 : 0
  provider          = snowflake.accountadmin
  account_role_name = var.plan_role_name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "INTEGRATION"
    object_name = snowflake_notification_integration.errors[0].name
  }
}

# Future grants need MANAGE GRANTS in a standard schema: ACCOUNTADMIN, like the service role's.
resource "snowflake_grant_privileges_to_account_role" "plan_future" {
  for_each          = local.plan_role_future_grants
  provider          = snowflake.accountadmin
  account_role_name = var.plan_role_name
  privileges        = [each.value.privilege]
  on_schema_object {
    future {
      object_type_plural = each.value.objects
      in_schema          = each.value.schema
    }
  }
}
