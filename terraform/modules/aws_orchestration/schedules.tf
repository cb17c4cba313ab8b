# EventBridge Scheduler: the hourly sync (state machine, input {} = every table, incremental) and the
# reconciler's own hourly run, so reconciliation continues even when the state machine does not.
# Both live in their own schedule group, so the AWS/Scheduler alarms (dimension ScheduleGroup) see
# these two only; an invocation that fails all its retries goes to the undelivered queue, not away.

resource "aws_scheduler_schedule_group" "pipeline" {
  name = var.name
  tags = var.tags
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    sid     = "SchedulerAssumesTheRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "Lets EventBridge Scheduler start the sync and invoke the reconciler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartSync"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.sync.arn]
  }
  statement {
    sid       = "InvokeReconciler"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.reconciler_function_arn, "${var.reconciler_function_arn}:*"]
  }
  statement {
    # Scheduler writes dead letters with the schedule's execution role.
    sid       = "DeadLetterUndeliveredInvocations"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.undelivered.arn]
  }
  statement {
    sid       = "EncryptDeadLetters"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.ops_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "sync" {
  # checkov:skip=CKV_AWS_297:The schedule input is the constant {}; nothing confidential is stored, and AWS-owned encryption applies.
  name                         = "${var.name}-sync-hourly"
  group_name                   = aws_scheduler_schedule_group.pipeline.name
  description                  = "Hourly incremental sync of every table in tables.json"
  schedule_expression          = var.sync_schedule
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedules_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.sync.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})

    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 900
    }

    dead_letter_config {
      arn = aws_sqs_queue.undelivered.arn
    }
  }
}

resource "aws_scheduler_schedule" "reconcile" {
  # checkov:skip=CKV_AWS_297:The schedule input is the constant {}; nothing confidential is stored, and AWS-owned encryption applies.
  name                         = "${var.name}-reconcile-hourly"
  group_name                   = aws_scheduler_schedule_group.pipeline.name
  description                  = "Hourly reconciliation of every table, independent of the sync state machine"
  schedule_expression          = var.reconcile_schedule
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedules_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.reconciler_function_arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 900
    }

    dead_letter_config {
      arn = aws_sqs_queue.undelivered.arn
    }
  }
}
