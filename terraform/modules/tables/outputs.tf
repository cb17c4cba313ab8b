output "ssm_parameters" {
  description = "Every SSM parameter of the table list except the index itself, name => value: one per table (the tables.json entry, as aurora_sync.tables.parse_entry reads it) and the index's further parts."
  value       = merge(local.entries, local.index_parts)

  precondition {
    condition     = length(local.too_large) == 0
    error_message = "A table's SSM parameter would exceed Parameter Store's 8 KB (Advanced tier): ${join(", ", local.too_large)}. One parameter holds one table: fewer or shorter-named columns are the only way."
  }
}

output "ssm_index" {
  description = "Value of the index parameter (parameter_name): the first tables, how many there are in how many parts, and the sha256 of every table's parameter (aurora_sync.table_index)."
  value       = local.index

  precondition {
    condition     = length(local.index) <= local.value_limit
    error_message = "The table index would be ${length(local.index)} characters, over Parameter Store's 8 KB."
  }
}

output "by_name" {
  description = "Entries keyed by schema.table, for for_each."
  value       = local.by_name
}

output "s3_prefixes" {
  description = "Export prefix of each table in the bucket (<schema.table>/)."
  value       = { for name in keys(local.by_name) : name => "${name}/" }
}
