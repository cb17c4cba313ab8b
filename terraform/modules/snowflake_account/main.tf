# Account-level objects, shared by every table. Integrations and account grants need ACCOUNTADMIN
# (provider snowflake.accountadmin); everything else is created by the default provider's role.

locals {
  audit_table = "MERGE_AUDIT"
}

resource "snowflake_database" "sync" {
  name    = var.database
  comment = "aurora-snowflake-sync: Aurora tables loaded by Snowpipe and merged by tasks"
}

resource "snowflake_schema" "staging" {
  database = snowflake_database.sync.name
  name     = var.staging_schema
  comment  = "Raw loads (Snowpipe), streams and merge tasks"
}

resource "snowflake_schema" "final" {
  database = snowflake_database.sync.name
  name     = var.final_schema
  comment  = "Deduplicated tables, one row per primary key"
}

resource "snowflake_warehouse" "tasks" {
  name                = var.warehouse_name
  warehouse_size      = var.warehouse_size
  auto_suspend        = 60
  auto_resume         = "true"
  initially_suspended = true
  resource_monitor    = snowflake_resource_monitor.sync.name
  comment             = "aurora-snowflake-sync merge tasks"
}

# P4 (cost): Snowflake e-mails at 80 % and 100 % of the warehouse's credits this month. Notify only,
# never suspend: a cost overrun is looked at in working hours, a suspended warehouse stops every
# MERGE (and pages as merge failures). Recipients are Snowflake's, never the pager: account
# administrators who enabled notifications, plus var.resource_monitor.notify_users (users with a
# verified e-mail). Snowflake: "Working with resource monitors", "CREATE RESOURCE MONITOR". No
# FREQUENCY/START_TIMESTAMP: the quota then resets at the start of each calendar month.
# Only ACCOUNTADMIN creates resource monitors.
resource "snowflake_resource_monitor" "sync" {
  provider = snowflake.accountadmin

  name            = "${var.warehouse_name}_MONITOR"
  credit_quota    = var.resource_monitor.credit_quota
  notify_triggers = [80, 100]
  notify_users    = length(var.resource_monitor.notify_users) > 0 ? var.resource_monitor.notify_users : null
}

# Same options as sql/file_format.sql (tests/infra compares them). The three formats are the
# exporter's CSV contract (aurora_sync.exporter.query): one form for every timestamp, no AUTO guessing.
resource "snowflake_file_format_csv" "aurora_csv" {
  database                       = snowflake_database.sync.name
  schema                         = snowflake_schema.staging.name
  name                           = "AURORA_CSV"
  skip_header                    = 1
  field_delimiter                = ","
  field_optionally_enclosed_by   = "\""
  empty_field_as_null            = "true"
  null_if                        = []
  escape_unenclosed_field        = "NONE"
  error_on_column_count_mismatch = "true"
  encoding                       = "UTF8"
  timestamp_format               = "YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM"
  date_format                    = "YYYY-MM-DD"
  time_format                    = "HH24:MI:SS.FF6"
}

# Same columns as sql/merge_audit_table.sql: one row per MERGE the tasks run.
resource "snowflake_table" "merge_audit" {
  database = snowflake_database.sync.name
  schema   = snowflake_schema.staging.name
  name     = local.audit_table
  comment  = "Rows inserted/updated/deleted/marked by each MERGE task run"

  column {
    name     = "TABLE_NAME"
    type     = "VARCHAR"
    nullable = false
  }
  column {
    name     = "QUERY_ID"
    type     = "VARCHAR"
    nullable = false
  }
  column {
    name     = "ROWS_INSERTED"
    type     = "NUMBER(38,0)"
    nullable = false
  }
  column {
    name     = "ROWS_UPDATED"
    type     = "NUMBER(38,0)"
    nullable = false
  }
  # Delete detection's counts (hard: rows deleted; soft: rows marked); 0 for tables without it.
  # Nullable: added in place to a deployed table whose earlier rows have none.
  column {
    name     = "ROWS_DELETED"
    type     = "NUMBER(38,0)"
    nullable = true
  }
  column {
    name     = "ROWS_MARKED"
    type     = "NUMBER(38,0)"
    nullable = true
  }
  column {
    name     = "MERGED_AT"
    type     = "TIMESTAMP_LTZ"
    nullable = false
  }

  # Created after the service role's future SELECT grant, so the grant covers it.
  depends_on = [snowflake_grant_privileges_to_account_role.service_reads_tables]
}

resource "snowflake_storage_integration_aws" "exports" {
  provider = snowflake.accountadmin

  name                      = var.storage_integration_name
  enabled                   = true
  storage_provider          = "S3"
  storage_aws_role_arn      = var.aws_role_arn
  storage_allowed_locations = ["s3://${var.bucket_name}/"]
  comment                   = "aurora-snowflake-sync export bucket (read by the per-table stages)"
}

resource "snowflake_notification_integration" "errors" {
  count    = var.task_error_notifications.enabled ? 1 : 0
  provider = snowflake.accountadmin

  name                  = "${var.storage_integration_name}_ERRORS"
  enabled               = true
  notification_provider = "AWS_SNS"
  aws_sns_topic_arn     = var.task_error_notifications.topic_arn
  aws_sns_role_arn      = var.task_error_notifications.aws_role_arn
  comment               = "Failed MERGE tasks and pipes -> the alerts topic (chat)"
}
