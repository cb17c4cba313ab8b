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
# the P1/P2 alarms have their own topic, which pages and posts unfiltered (P3 alarms publish to the
# alerts topic above, where that filter keeps them from the pager: alarms.tf).
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
