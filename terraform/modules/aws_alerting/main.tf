data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  # Pages: P1 (pipeline down) and P2 (data quality). Chat gets everything.
  pager_filter = jsonencode({ severity = ["P1", "P2"] })
}

# --- Key for the topic, the alert-state table and the log groups ----------------------------------

data "aws_iam_policy_document" "ops_key" {
  # checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key, and the account root delegates to IAM (AWS's default key policy).
  # checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key.
  # checkov:skip=CKV_AWS_109:Key policy: the account root administers the key (AWS's default key policy); IAM policies grant use.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopics"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
  statement {
    # A KMS-encrypted SQS dead-letter queue of an EventBridge rule target needs the key to allow
    # EventBridge itself (EventBridge User Guide, "Using dead-letter queues").
    sid       = "EventBridgeEncryptsDeadLetters"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncryptLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "ops" {
  description         = "${var.name}: alerts and alarms topics, alert state, logs, undelivered queue"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.ops_key.json
  tags                = var.tags
}

resource "aws_kms_alias" "ops" {
  name          = "alias/${var.name}-ops"
  target_key_id = aws_kms_key.ops.key_id
}

# --- Alerts: one topic, routed by the `severity` message attribute --------------------------------

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.ops.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alerts_pager" {
  count               = var.pager_subscription == null ? 0 : 1
  topic_arn           = aws_sns_topic.alerts.arn
  protocol            = var.pager_subscription.protocol
  endpoint            = var.pager_subscription.endpoint
  filter_policy_scope = "MessageAttributes"
  filter_policy       = local.pager_filter
}

resource "aws_sns_topic_subscription" "alerts_chat" {
  count     = var.chat_subscription == null ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = var.chat_subscription.protocol
  endpoint  = var.chat_subscription.endpoint
}

# CloudWatch alarm notifications carry no message attributes, so a severity filter would drop them:
# they have their own topic, which pages and posts unfiltered.
resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.ops.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alarms_pager" {
  count     = var.pager_subscription == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = var.pager_subscription.protocol
  endpoint  = var.pager_subscription.endpoint
}

resource "aws_sns_topic_subscription" "alarms_chat" {
  count     = var.chat_subscription == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = var.chat_subscription.protocol
  endpoint  = var.chat_subscription.endpoint
}

# --- Alert state (dedup of open problems, DESIGN.md §6) -------------------------------------------

resource "aws_dynamodb_table" "alert_state" {
  name         = "${var.name}-alert-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "dedup_key"

  attribute {
    name = "dedup_key"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at" # epoch seconds, written by the Lambdas with each alert item
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.ops.arn
  }

  deletion_protection_enabled = true
  tags                        = var.tags
}
