data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  ssm_arn_prefix = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter"
  bucket_arn     = "arn:${data.aws_partition.current.partition}:s3:::${var.export_bucket}"

  # The deploy contract (DESIGN.md §4, aurora_sync.settings.ExporterSettings); empty values are left out.
  environment = {
    TABLES_PARAMETER                = var.tables_parameter_name
    OVERRIDES_PATH                  = var.overrides_path
    EXPORT_BUCKET                   = var.export_bucket
    EXPORT_MODE                     = var.export_mode
    EXPORT_TEMP_PREFIX              = var.incoming_prefix
    EXPORT_PART_MIB                 = tostring(var.export_part_mib)
    MAX_RANGE_HOURS                 = tostring(var.max_range_hours)
    ALERT_TOPIC_ARN                 = var.alert_topic_arn
    ALERT_STATE_TABLE               = var.alert_state_table_name
    EXPORT_LEASE_TABLE              = aws_dynamodb_table.export_lease.name
    LEASE_ALERT_AFTER_MINUTES       = tostring(var.lease_alert_after_minutes)
    DB_HOST                         = var.database.host
    DB_PORT                         = tostring(var.database.port)
    DB_NAME                         = var.database.name
    DB_SSL_CA_BUNDLE_PARAMETER      = var.database.ca_bundle_parameter
    DB_USER                         = var.database.fallback_user
    DB_PASSWORD_ENCRYPTED           = var.database.fallback_password_encrypted
    VAULT_ADDR                      = var.vault.addr
    VAULT_AUTH_METHOD               = var.vault.auth_method
    VAULT_ROLE                      = var.vault.role
    VAULT_AWS_HEADER_VALUE          = var.vault.aws_header_value
    VAULT_KV_MOUNT                  = var.vault.kv_mount
    VAULT_SECRET_PATH               = var.vault.secret_path
    VAULT_SNOWFLAKE_SECRET_PATH     = var.vault.snowflake_secret_path
    VAULT_DB_ROLE                   = var.vault.db_role
    VAULT_NAMESPACE                 = var.vault.namespace
    SNOWFLAKE_ACCOUNT               = var.snowflake.account
    SNOWFLAKE_WAREHOUSE             = var.snowflake.warehouse
    SNOWFLAKE_DATABASE              = var.snowflake.database
    SNOWFLAKE_ROLE                  = var.snowflake.role
    SNOWFLAKE_USER                  = var.snowflake.fallback_user
    SNOWFLAKE_PRIVATE_KEY_ENCRYPTED = var.snowflake.fallback_private_key_encrypted
    POWERTOOLS_SERVICE_NAME         = var.service_name
    POWERTOOLS_METRICS_NAMESPACE    = var.metrics_namespace
  }
}

data "aws_iam_policy_document" "exporter" {
  statement {
    # The table index, one table's parameter (a Step Functions item reads only its own), the CA bundle.
    sid       = "ReadTableListAndDbCaBundle"
    actions   = ["ssm:GetParameter"]
    resources = ["${local.ssm_arn_prefix}${var.tables_parameter_name}", "${local.ssm_arn_prefix}${var.tables_parameter_name}/*", "${local.ssm_arn_prefix}${var.database.ca_bundle_parameter}"]
  }
  statement {
    # Every table's parameter in pages of 10; authorized against the path itself (API reference).
    sid       = "ListTableEntries"
    actions   = ["ssm:GetParametersByPath"]
    resources = ["${local.ssm_arn_prefix}${var.tables_parameter_name}"]
  }
  statement {
    sid       = "ReadAndClearOverrides"
    actions   = ["ssm:GetParameter", "ssm:DeleteParameter"]
    resources = ["${local.ssm_arn_prefix}${var.overrides_path}*"]
  }
  # Objects, per prefix, exactly as aurora_sync.exporter uses them (layout.py, adapters/s3.py). A
  # multipart upload and the target of a (part) copy need s3:PutObject, the copy's source s3:GetObject.
  statement {
    # Data files: streamed (copy_stream) or copied in from _incoming/ (aurora_s3); the parts of a
    # split publish that failed midway are removed again. Never read back.
    sid       = "WriteTableExports"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
    resources = [for prefix in values(var.table_prefixes) : "${local.bucket_arn}/${prefix}*"]
  }
  statement {
    # Aurora's output (aurora_s3): header check and copy source, then deleted.
    sid       = "ReadAndClearIncomingExports"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arn}/${var.incoming_prefix}*"]
  }
  statement {
    # Written last for each export; read back as evidence for publish pins.
    sid       = "WriteAndReadManifests"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${local.bucket_arn}/${var.manifest_prefix}*"]
  }
  statement {
    sid       = "WriteReadAndClearPublishPins"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arn}/${var.pending_prefix}*"]
  }
  statement {
    # Aurora's parts before publishing; the publish pins every incremental window reads, and the
    # manifests that show what a pin's window still lacks (aurora_sync.pending).
    sid       = "ListIncomingPartsPublishPinsAndManifests"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.incoming_prefix}*", "${var.pending_prefix}*", "${var.manifest_prefix}*"]
    }
  }
  statement {
    sid       = "EncryptExports"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.export_bucket_kms_key_arn]
  }
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [var.alert_topic_arn]
  }
  statement {
    sid       = "AlertState"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = ["arn:${data.aws_partition.current.partition}:dynamodb:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:table/${var.alert_state_table_name}"]
  }
  statement {
    # Conditional PutItem (take: absent, expired or already ours) and DeleteItem (release: only as
    # the holder); the item in the way comes back with the failed write, so no GetItem.
    sid       = "ExportLeases"
    actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.export_lease.arn]
  }
  statement {
    sid       = "UseOpsKeyForTopicAlertStateAndLeases"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.ops_kms_key_arn]
  }
}

module "function" {
  source = "../aws_lambda_function"

  name                   = var.name
  description            = "aurora-snowflake-sync exporter: Aurora window -> S3 CSV + manifest"
  handler                = var.handler
  runtime                = var.runtime
  zip_path               = var.zip_path
  layer_arns             = [var.layer_arn]
  architecture           = var.architecture
  timeout_seconds        = var.timeout_seconds
  memory_mb              = var.memory_mb
  reserved_concurrency   = var.reserved_concurrency
  environment            = local.environment
  policy_statements_json = data.aws_iam_policy_document.exporter.json
  subnet_ids             = var.subnet_ids
  security_group_ids     = var.security_group_ids
  log_retention_days     = var.log_retention_days
  logs_kms_key_arn       = var.ops_kms_key_arn
  tags                   = var.tags
}
