# What operators read with `terraform output` (docs/deploy.md, docs/runbook.md): the system's outputs,
# by the same names; each is described in ../../system/outputs.tf.

output "export_bucket" { value = module.system.export_bucket }
output "state_machine_arn" { value = module.system.state_machine_arn }
output "exporter_function_name" { value = module.system.exporter_function_name }
output "exporter_log_group" { value = module.system.exporter_log_group }
output "export_lease_table" { value = module.system.export_lease_table }
output "reconciler_function_name" { value = module.system.reconciler_function_name }
output "reconciler_log_group" { value = module.system.reconciler_log_group }
output "lambda_role_arns" { value = module.system.lambda_role_arns }
output "fallback_kms_key_arns" { value = module.system.fallback_kms_key_arns }
output "alert_topic_arn" { value = module.system.alert_topic_arn }
output "alarm_topic_arn" { value = module.system.alarm_topic_arn }
output "alert_state_table" { value = module.system.alert_state_table }
output "undelivered_queue_name" { value = module.system.undelivered_queue_name }
output "snowflake_database" { value = module.system.snowflake_database }
output "sync_schedule" { value = module.system.sync_schedule }
output "aurora_export_policy_json" { value = module.system.aurora_export_policy_json }
output "snowflake_storage_integration" { value = module.system.snowflake_storage_integration }
output "ci_plan_role_policy_json" { value = module.system.ci_plan_role_policy_json }
output "names" { value = module.system.names }
