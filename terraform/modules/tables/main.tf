# One source of truth: the SSM parameter, the S3 notifications and the per-table Snowflake objects
# all come from these outputs, so they cannot disagree.
locals {
  tables  = jsondecode(var.tables_json)
  by_name = { for t in local.tables : t.table_name => t }
}
