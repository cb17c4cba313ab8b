data "aws_iam_policy_document" "reconciler" {
  statement {
    # The table index, one table's parameter (a Step Functions item reads only its own), the CA bundle.
    sid       = "ReadTableListAndDbCaBundle"
    actions   = ["ssm:GetParameter"]
    resources = ["${local.ssm_arn_prefix}${var.common.tables_parameter_name}", "${local.ssm_arn_prefix}${var.common.tables_parameter_name}/*", "${local.ssm_arn_prefix}${var.common.database.ca_bundle_parameter}"]
  }
  statement {
    # Every table's parameter in pages of 10; authorized against the path itself (API reference).
    sid       = "ListTableEntries"
    actions   = ["ssm:GetParametersByPath"]
    resources = ["${local.ssm_arn_prefix}${var.common.tables_parameter_name}"]
  }
  statement {
    # Manifests, and the exporter's publish pins (the `pins` check); never the data files.
    sid       = "ReadManifestsAndPublishPins"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${var.manifest_prefix}*", "${local.bucket_arn}/${var.pending_prefix}*"]
  }
  statement {
    # Key names only: manifests by hour, and whether a data file a manifest names still exists.
    sid       = "ListExportsAndManifests"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }
  statement {
    sid       = "DecryptManifests"
    actions   = ["kms:Decrypt"]
    resources = [var.common.export_bucket_kms_key_arn]
  }
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [var.common.alert_topic_arn]
  }
  statement {
    sid       = "AlertState"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = ["arn:${data.aws_partition.current.partition}:dynamodb:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:table/${var.common.alert_state_table_name}"]
  }
  statement {
    # Alerts topic, alert state, and the alarms topic of the on-failure destination (below).
    sid       = "UseOpsKeyForTopicsAndAlertState"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.common.ops_kms_key_arn]
  }
  statement {
    # The summary a failed sync execution leaves in its cause (aurora_sync.reconciler.execution_alerts).
    sid       = "DescribeSyncExecutions"
    actions   = ["states:DescribeExecution"]
    resources = ["arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:execution:${var.sync_state_machine_name}:*"]
  }
  statement {
    # Lambda sends the on-failure destination's record with the function's own role.
    sid       = "RecordFailedAsyncInvocations"
    actions   = ["sns:Publish"]
    resources = [var.invocation_failure_topic_arn]
  }
}
