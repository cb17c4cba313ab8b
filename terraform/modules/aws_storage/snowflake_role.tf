# The IAM role the Snowflake storage integration assumes. Its ARN is known before it exists (name
# + account), so the integration is created first; the trust policy is then built from the
# integration's outputs (its IAM user and external id). See docs/deploy.md, "First deployment".

data "aws_iam_policy_document" "snowflake_trust" {
  statement {
    sid     = "SnowflakeStorageIntegration"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.snowflake_iam_user_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.snowflake_external_id]
    }
  }
}

resource "aws_iam_role" "snowflake" {
  name                 = var.snowflake_role_name
  description          = "Assumed by the Snowflake storage integration to read exported files"
  assume_role_policy   = data.aws_iam_policy_document.snowflake_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "snowflake_read" {
  statement {
    sid       = "ReadTableExports"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [for prefix in values(var.table_prefixes) : "${aws_s3_bucket.exports.arn}/${prefix}*"]
  }
  statement {
    sid       = "ListTableExports"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.exports.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat([""], [for prefix in values(var.table_prefixes) : "${prefix}*"])
    }
  }
  statement {
    sid       = "BucketLocation"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.exports.arn]
  }
  statement {
    sid       = "DecryptExports"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.bucket.arn]
  }
}

resource "aws_iam_role_policy" "snowflake_read" {
  name   = "read-exports"
  role   = aws_iam_role.snowflake.id
  policy = data.aws_iam_policy_document.snowflake_read.json
}

# What the Aurora cluster's own IAM role needs for aws_s3.query_export_to_s3 (EXPORT_MODE=aurora_s3):
# write into _incoming/ only. The cluster belongs to another stack, which attaches this document.
data "aws_iam_policy_document" "aurora_export" {
  statement {
    sid       = "WriteIncomingExports"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.exports.arn}/${var.incoming_prefix}*"]
  }
  statement {
    sid       = "EncryptExports"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.bucket.arn]
  }
}
