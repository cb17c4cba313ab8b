output "ssm_value" {
  description = "The SSM parameter value the exporter and reconciler parse (aurora_sync.config.parse_tables): the entries unchanged, minified."
  value       = jsonencode(local.tables)
}

output "by_name" {
  description = "Entries keyed by schema.table, for for_each."
  value       = local.by_name
}

output "s3_prefixes" {
  description = "Export prefix of each table in the bucket (<schema.table>/)."
  value       = { for name in keys(local.by_name) : name => "${name}/" }
}
