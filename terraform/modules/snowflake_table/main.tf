# One table's Snowflake objects: STAGING table, FINAL table, stage on the table's prefix, pipe
# (AUTO_INGEST, the COPY from sql/copy.sql), append-only stream, MERGE task (body and QUERY_TAG from
# sql/task.sql).
# All SQL and names come from ./render, which tests/infra compares with aurora_sync.snowflake_sql.

module "render" {
  source = "./render"

  table                  = var.table
  database               = var.database
  stage_url              = var.stage_url
  storage_integration    = var.storage_integration
  warehouse              = var.warehouse
  schedule               = var.task_schedule
  staging_retention_days = var.staging_retention_days
  staging_schema         = var.staging_schema
  final_schema           = var.final_schema
}

locals {
  names         = module.render.names
  schedule_mins = try(tonumber(regex("^([0-9]+) MINUTES?$", var.task_schedule)[0]), null)
  schedule_cron = try(regex("^USING CRON (.+)$", var.task_schedule)[0], null)
}

resource "snowflake_table" "staging" {
  database        = var.database
  schema          = var.staging_schema
  name            = local.names.staging
  change_tracking = true # the stream reads it
  comment         = "Raw loads of ${var.table.table_name} (Snowpipe); merged into ${var.final_schema}.${local.names.final}"

  dynamic "column" {
    for_each = module.render.staging_columns
    content {
      name     = column.value.name
      type     = column.value.type
      nullable = column.value.nullable
    }
  }
}

resource "snowflake_table" "final" {
  database = var.database
  schema   = var.final_schema
  name     = local.names.final
  comment  = "${var.table.table_name}, one row per primary key (${join(", ", module.render.primary_keys)})"

  dynamic "column" {
    for_each = module.render.final_columns
    content {
      name     = column.value.name
      type     = column.value.type
      nullable = column.value.nullable
    }
  }

  lifecycle {
    # FINAL is the data analysts use: never dropped by a plan (remove the table by hand).
    prevent_destroy = true
  }
}

resource "snowflake_stage_external_s3" "exports" {
  database            = var.database
  schema              = var.staging_schema
  name                = local.names.stage
  url                 = var.stage_url
  storage_integration = var.storage_integration
  comment             = "Exports of ${var.table.table_name}"

  file_format {
    format_name = var.file_format
  }
}

resource "snowflake_pipe" "load" {
  database          = var.database
  schema            = var.staging_schema
  name              = local.names.pipe
  auto_ingest       = true
  copy_statement    = module.render.values.copy
  error_integration = var.error_integration
  comment           = "Loads new ${var.table.table_name} exports into STAGING"

  depends_on = [snowflake_table.staging, snowflake_stage_external_s3.exports]

  lifecycle {
    # A pipe keeps the stage it was created with: a stage replaced or altered (URL, storage
    # integration, file format) is not seen by the pipe, and the provider does not notice. The
    # provider's snowflake_pipe documentation replaces the pipe with its stage for this reason.
    replace_triggered_by = [snowflake_stage_external_s3.exports]
  }
}

resource "snowflake_stream_on_table" "staging" {
  database    = var.database
  schema      = var.staging_schema
  name        = local.names.stream
  table       = snowflake_table.staging.fully_qualified_name
  append_only = "true"
  comment     = "New STAGING rows of ${var.table.table_name} for the MERGE task"
}

resource "snowflake_task" "merge" {
  database                        = var.database
  schema                          = var.staging_schema
  name                            = local.names.task
  warehouse                       = var.warehouse
  started                         = true
  when                            = module.render.task.when
  sql_statement                   = module.render.task.body
  error_integration               = var.error_integration
  allow_overlapping_execution     = "false"
  suspend_task_after_num_failures = var.suspend_task_after_failures
  query_tag                       = module.render.task.query_tag # per table: the reconciler's cost check
  comment                         = "Deduplicating MERGE of ${var.table.table_name} into ${var.final_schema}.${local.names.final}"

  schedule {
    minutes    = local.schedule_mins
    using_cron = local.schedule_cron
  }

  depends_on = [snowflake_table.final, snowflake_stream_on_table.staging]
}
