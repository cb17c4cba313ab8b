# Every name that is unique per AWS account/region or per Snowflake account, in one place. Two
# environments may share an account, so each name carries the environment: the second apply would
# otherwise fail on a name the first one owns (SSM ParameterAlreadyExists, an integration that
# exists), or worse, succeed and mix them (dev's exporter deleting prod's overrides, prod's freshness
# alarms reading dev's data points). tests/infra/test_environment_names.py evaluates this module for
# every environment and checks the names are disjoint.
locals {
  project = "aurora-snowflake-sync"
  # SSM: one hierarchy per environment; IAM grants on `<root>/...` can never reach another's.
  ssm_root = "/${local.project}/${var.environment}"
  # Snowflake identifiers are upper-case and have no dash (the environment may have one; no
  # environment has an underscore, so the mapping stays one-to-one).
  snowflake_env = upper(replace(var.environment, "-", "_"))
}
