# The per-table values of ../sql/*.sql, computed exactly like aurora_sync.snowflake_sql.SnowflakeTable:
# identifiers upper-cased and double-quoted, lists in config order. tests/infra compares both.
locals {
  json_types = ["VARIANT", "OBJECT", "ARRAY"]

  relation        = split(".", var.table.table_name)[1]
  snowflake_table = upper(coalesce(var.table.target_table, local.relation))
  database        = upper(var.database)
  staging_schema  = upper(var.staging_schema)
  final_schema    = upper(var.final_schema)

  # Unquoted object names (what the provider's resources take) ...
  names = {
    staging     = local.snowflake_table
    final       = local.snowflake_table
    stream      = "${local.snowflake_table}_STREAM"
    pipe        = "${local.snowflake_table}_PIPE"
    stage       = "${local.snowflake_table}_STAGE"
    task        = "${local.snowflake_table}_MERGE"
    file_format = "AURORA_CSV"
  }
  # ... and the quoted, database-qualified form the SQL uses: a pipe's COPY and a task's body are
  # resolved when created, and the provider's session has no current database.
  staging_prefix = "\"${local.database}\".\"${local.staging_schema}\""
  final_prefix   = "\"${local.database}\".\"${local.final_schema}\""
  staging_q      = "${local.staging_prefix}.\"${local.names.staging}\""
  stream_q       = "${local.staging_prefix}.\"${local.names.stream}\""

  # Loaded and merged: the active columns. Defined in STAGING and FINAL: every column, retired ones
  # too, in tables.json's order, so retiring one changes neither table (the provider would drop a
  # column that leaves the list).
  active_columns = [for c in var.table.columns : c if !c.retired]
  column_types   = [for c in var.table.columns : upper(trimspace(c.type))]
  active_types   = [for c in local.active_columns : upper(trimspace(c.type))]
  all_cols       = [for c in var.table.columns : "\"${upper(c.name)}\""]
  cols           = [for c in local.active_columns : "\"${upper(c.name)}\""]
  keys           = [for k in var.table.primary_keys : "\"${upper(k)}\""]
  non_keys       = [for c in local.cols : c if !contains(local.keys, c)]

  # Delete detection (aurora_sync.snowflake_sql SnowflakeTable._delete_values): the MERGE's tombstone
  # branch and FINAL's _DELETED_AT; empty strings when off, so those tables render as before.
  detection      = var.table.delete_detection
  watermark_q    = "\"${upper(var.table.watermark_col)}\""
  watermark_type = one([for i, c in var.table.columns : local.column_types[i] if upper(c.name) == upper(var.table.watermark_col)])
  newer          = "(t.${local.watermark_q} IS NULL OR s.${local.watermark_q} > t.${local.watermark_q})"
  is_tombstone   = "\"_SOURCE_FILE\" LIKE '%.deletes.csv'"
  acts           = "s.\"_TOMBSTONE\" AND ${local.newer}"
  # A soft mark is an update in the MERGE's result: the task counts them first (mark_count.sql) into
  # this Snowflake Scripting variable and moves them out of ROWS_UPDATED; a DELETE clause adds the
  # result's third column, rows deleted.
  marked = ":marked_rows"
  delete_values = local.detection == "off" ? {
    tombstone_column    = ""
    tombstone_order     = ""
    tombstone_clause    = ""
    tombstone_acts      = ""
    not_tombstone       = ""
    final_extra_columns = ""
    mark_into           = ""
    audit_updated       = "$2"
    audit_deleted       = "0"
    audit_marked        = "0"
    } : {
    tombstone_column    = ", ${local.is_tombstone} AS \"_TOMBSTONE\""
    tombstone_order     = ", CASE WHEN ${local.is_tombstone} THEN 1 ELSE 0 END"
    not_tombstone       = " AND NOT s.\"_TOMBSTONE\""
    final_extra_columns = local.detection == "soft" ? ",\n  \"_DELETED_AT\" ${local.watermark_type}" : ""
    tombstone_clause = local.detection == "soft" ? join("", [
      "\nWHEN MATCHED AND ${local.acts} THEN UPDATE SET\n",
      "  \"_DELETED_AT\" = COALESCE(t.\"_DELETED_AT\", s.${local.watermark_q})",
    ]) : "\nWHEN MATCHED AND ${local.acts} THEN DELETE"
    tombstone_acts = local.detection == "soft" ? local.acts : ""
    mark_into      = local.detection == "soft" ? " INTO ${local.marked}" : ""
    audit_updated  = local.detection == "soft" ? "$2 - ${local.marked}" : "$2"
    audit_deleted  = local.detection == "soft" ? "0" : "$3"
    audit_marked   = local.detection == "soft" ? local.marked : "0"
  }
  soft_reset = local.detection == "soft" ? ["\"_DELETED_AT\" = NULL"] : []

  base_values = merge(local.delete_values, {
    staging             = local.staging_q
    final               = "${local.final_prefix}.\"${local.names.final}\""
    stream              = local.stream_q
    stream_name         = local.stream_q
    pipe                = "${local.staging_prefix}.\"${local.names.pipe}\""
    stage               = "${local.staging_prefix}.\"${local.names.stage}\""
    task                = "${local.staging_prefix}.\"${local.names.task}\""
    file_format         = "${local.staging_prefix}.\"${local.names.file_format}\""
    stage_url           = var.stage_url
    storage_integration = "\"${upper(var.storage_integration)}\""
    warehouse           = "\"${upper(var.warehouse)}\""
    schedule            = var.schedule
    # A whole number of days (validated), rendered as Python's str(int) renders it.
    staging_retention_days = tostring(var.staging_retention_days)
    source                 = local.stream_q
    columns                = join(", ", local.cols)
    column_definitions     = join(",\n  ", [for i, c in local.all_cols : "${c} ${local.column_types[i]}"])
    key_columns            = join(", ", local.keys)
    key_join               = join(" AND ", [for k in local.keys : "t.${k} = s.${k}"])
    watermark              = "\"${upper(var.table.watermark_col)}\""
    update_set             = join(",\n  ", concat([for c in local.non_keys : "${c} = s.${c}"], local.soft_reset))
    insert_values          = join(", ", [for c in local.cols : "s.${c}"])
    audit_table            = "${local.staging_prefix}.\"MERGE_AUDIT\""
    # SnowflakeTable.merge_query_tag: the reconciler's cost check sums credits by it.
    query_tag  = "aurora-snowflake-sync:merge:${local.database}:${var.table.table_name}"
    table_name = var.table.table_name
    copy_expressions = join(", ", [
      for i, t in local.active_types :
      contains(local.json_types, split("(", t)[0]) ? format("PARSE_JSON($%d)", i + 1) : format("$%d", i + 1)
    ])
  })

  sql_dir = "${path.module}/../sql"
  # Composed values: templates rendered into other templates (pipe <- copy, task <- merge + audit +
  # purges, merge and mark_count <- merge_source), in SnowflakeTable.values()'s order.
  source_values = merge(local.base_values, {
    merge_source = trimspace(templatefile("${local.sql_dir}/merge_source.sql", local.base_values))
  })
  mark_count = local.detection == "soft" ? trimspace(templatefile("${local.sql_dir}/mark_count.sql", local.source_values)) : ""
  counted_values = merge(local.source_values, {
    mark_count = local.mark_count
    mark_step  = local.mark_count == "" ? "" : "LET marked_rows NUMBER(38,0) := 0;\n  ${local.mark_count};\n  "
  })
  composed_templates = ["copy", "merge", "audit_insert", "purge_staging"]
  values = merge(local.counted_values, {
    for name in local.composed_templates :
    name => trimspace(templatefile("${local.sql_dir}/${name}.sql", local.counted_values))
  })

  # The same tables as staging_table.sql / final_table.sql, as the snowflake_table resource takes
  # them (tests/infra parses the rendered statements and compares).
  metadata_columns = [
    { name = "_SOURCE_FILE", type = "VARCHAR", nullable = false },
    { name = "_SOURCE_ROW", type = "NUMBER(38,0)", nullable = false },
    { name = "_LOADED_AT", type = "TIMESTAMP_LTZ", nullable = false },
  ]
  config_columns = [for i, c in var.table.columns : { name = upper(c.name), type = local.column_types[i] }]
  staging_columns = concat(
    [for c in local.config_columns : merge(c, { nullable = true })],
    local.metadata_columns,
  )
  # Primary-key columns are NOT NULL, as PRIMARY KEY (...) makes them in final_table.sql.
  final_columns = concat(
    [for c in local.config_columns : merge(c, { nullable = !contains([for k in var.table.primary_keys : upper(k)], c.name) })],
    local.detection == "soft" ? [{ name = "_DELETED_AT", type = local.watermark_type, nullable = true }] : [],
  )

  # Every object's SQL, in creation order (SnowflakeTable.statements()).
  statement_templates = [
    "file_format", "staging_table", "final_table", "merge_audit_table", "stage", "pipe", "stream", "task",
  ]
  statements = {
    for name in local.statement_templates :
    name => trimspace(templatefile("${local.sql_dir}/${name}.sql", local.values))
  }

  # What the provider's snowflake_task takes apart from the CREATE TASK text: its body (after the
  # line `AS`), its WHEN condition and its QUERY_TAG session parameter, cut from the rendered
  # statement so task.sql stays the one source.
  task_body      = regex("(?s)\\nAS\\n(.*)$", local.statements.task)[0]
  task_when      = regex("\\n\\s*WHEN ([^\\n]*)\\n", local.statements.task)[0]
  task_query_tag = regex("\\n\\s*QUERY_TAG = '([^'\\n]*)'\\n", local.statements.task)[0]
}
