data "aws_iam_policy_document" "exporter" {
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
    sid       = "ReadAndClearOverrides"
    actions   = ["ssm:GetParameter", "ssm:DeleteParameter"]
    resources = ["${local.ssm_arn_prefix}${var.common.overrides_path}*"]
  }
  # Objects, per prefix, exactly as aurora_sync.exporter.service uses them (layout.py, adapters/s3.py). A
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
    # A full refresh in key ranges (exporter/refresh.py): its plan, written once and read by every
    # range, each range's checkpoint, and the complete/abandoned marker. Nothing is deleted there.
    sid       = "WriteAndReadRefreshPlansAndCheckpoints"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${local.bucket_arn}/${var.refresh_prefix}*"]
  }
  statement {
    # Aurora's parts before publishing; the publish pins every incremental window reads, the
    # manifests that show what a pin's window still lacks (aurora_sync.pins), a refresh's checkpoints.
    sid       = "ListIncomingPartsPublishPinsAndManifests"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.incoming_prefix}*", "${var.pending_prefix}*", "${var.manifest_prefix}*", "${var.refresh_prefix}*"]
    }
  }
  statement {
    sid       = "EncryptExports"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
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
    # Conditional PutItem (take: absent, expired or already ours) and DeleteItem (release: only as
    # the holder); the item in the way comes back with the failed write, so no GetItem.
    sid       = "ExportLeases"
    actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.export_lease.arn]
  }
  statement {
    sid       = "UseOpsKeyForTopicAlertStateAndLeases"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.common.ops_kms_key_arn]
  }
}
