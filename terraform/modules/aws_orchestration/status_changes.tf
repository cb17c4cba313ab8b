# Step Functions sends every status change of a Standard workflow to the default event bus. FAILED,
# TIMED_OUT and ABORTED go to the reconciler, which pages through its alert router (one page per
# open problem); SUCCEEDED resolves them. A Catch inside the state machine cannot see its own
# timeout, an abort, or States.DataLimitExceeded: this rule sees every ending (docs/decisions.md).

resource "aws_cloudwatch_event_rule" "sync_status" {
  name          = "${var.name}-sync-status"
  description   = "Sync executions that failed, timed out, were aborted or succeeded, to the reconciler (pages / resolves)"
  event_pattern = module.render.status_change_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "sync_status" {
  rule = aws_cloudwatch_event_rule.sync_status.name
  arn  = var.reconciler_function_arn

  retry_policy {
    maximum_retry_attempts       = 10
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.undelivered.arn
  }
}

resource "aws_lambda_permission" "sync_status" {
  statement_id  = "SyncStatusChangesFromEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = var.reconciler_function_arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sync_status.arn
}

# --- Undelivered: what EventBridge or Scheduler could not hand to its target ---------------------

resource "aws_sqs_queue" "undelivered" {
  name                      = "${var.name}-undelivered"
  kms_master_key_id         = var.ops_kms_key_arn
  message_retention_seconds = 1209600 # 14 days, the maximum: time to read what was missed
  tags                      = var.tags
}

data "aws_iam_policy_document" "undelivered" {
  statement {
    # EventBridge rule targets write their DLQ under the queue's policy (Scheduler uses its role).
    sid       = "StatusChangesRuleDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.undelivered.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.sync_status.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "undelivered" {
  queue_url = aws_sqs_queue.undelivered.id
  policy    = data.aws_iam_policy_document.undelivered.json
}
