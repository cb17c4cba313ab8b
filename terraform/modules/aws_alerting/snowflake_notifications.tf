# Snowflake publishes failed MERGE task runs and pipe loads to the alerts topic through a
# notification integration. Those messages carry no `severity` attribute, so they reach chat only;
# the reconciler pages (P2, deduplicated) when a task keeps failing. Same handshake as the storage
# integration: the role ARN is computed first, the trust comes from the integration's outputs.

data "aws_iam_policy_document" "snowflake_sns_trust" {
  count = var.snowflake_error_notifications.enabled ? 1 : 0
  statement {
    sid     = "SnowflakeNotificationIntegration"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.snowflake_error_notifications.iam_user_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.snowflake_error_notifications.external_id]
    }
  }
}

resource "aws_iam_role" "snowflake_sns" {
  count                = var.snowflake_error_notifications.enabled ? 1 : 0
  name                 = var.snowflake_error_notifications.role_name
  description          = "Assumed by the Snowflake notification integration to publish task/pipe errors"
  assume_role_policy   = data.aws_iam_policy_document.snowflake_sns_trust[0].json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "snowflake_sns_publish" {
  statement {
    sid       = "PublishErrors"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
  statement {
    sid       = "EncryptForTopic"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.ops.arn]
  }
}

resource "aws_iam_role_policy" "snowflake_sns" {
  count  = var.snowflake_error_notifications.enabled ? 1 : 0
  name   = "publish-errors"
  role   = aws_iam_role.snowflake_sns[0].id
  policy = data.aws_iam_policy_document.snowflake_sns_publish.json
}
