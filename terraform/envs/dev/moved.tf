# Issue 13 moved this root's body into ../../system: these blocks carry an existing state's
# addresses along (terraform plans moves, no destroy or create; tests/infra/test_terraform_apply.py).
# Once this environment has been applied with them they do nothing, and this file may go.

moved {
  from = aws_ssm_parameter.table
  to   = module.system.aws_ssm_parameter.table
}

moved {
  from = aws_ssm_parameter.tables
  to   = module.system.aws_ssm_parameter.tables
}

moved {
  from = aws_ssm_parameter.db_ca_bundle
  to   = module.system.aws_ssm_parameter.db_ca_bundle
}

moved {
  from = aws_lambda_layer_version.dependencies
  to   = module.system.aws_lambda_layer_version.dependencies
}

moved {
  from = module.names
  to   = module.system.module.names
}

moved {
  from = module.tables
  to   = module.system.module.tables
}

moved {
  from = module.network_endpoints
  to   = module.system.module.network_endpoints
}

moved {
  from = module.storage
  to   = module.system.module.storage
}

moved {
  from = module.alerting
  to   = module.system.module.alerting
}

moved {
  from = module.exporter
  to   = module.system.module.exporter
}

moved {
  from = module.reconciler
  to   = module.system.module.reconciler
}

moved {
  from = module.ci_plan_policy
  to   = module.system.module.ci_plan_policy
}

moved {
  from = module.orchestration
  to   = module.system.module.orchestration
}

moved {
  from = module.snowflake_account
  to   = module.system.module.snowflake_account
}

moved {
  from = module.snowflake_table
  to   = module.system.module.snowflake_table
}
