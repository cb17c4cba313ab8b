# Every alarm names its severity, and its severity alone picks where it goes, as the Lambdas' alerts
# are routed (DESIGN.md §6, docs/runbook.md "Alerts and what they mean"): P1 (pipeline down) and P2
# (data at risk) page, P3 (an SLA at risk, or a condition something else already retries) goes to
# chat only. P1/P2 alarms publish to the alarms topic (pager and chat, unfiltered). P3 alarms publish
# to the alerts topic: an alarm notification carries no message attributes, and the pager
# subscription there takes only messages whose `severity` attribute is P1 or P2 (local.pager_filter),
# so chat gets them and the pager never does (the same path as Snowflake's error notifications).
# What pages when a retried failure finally fails: the sync executions alarm and the execution's P1,
# the undelivered queue, dropped schedule invocations. The dashboard shows the signals side by side.
locals {
  alarm_topics = {
    P1 = [aws_sns_topic.alarms.arn]
    P2 = [aws_sns_topic.alarms.arn]
    P3 = [aws_sns_topic.alerts.arn]
  }
  # Leads every alarm's description, so the notification says what it is before anything else.
  alarm_labels = { P1 = "P1 (pages)", P2 = "P2 (pages)", P3 = "P3 (chat only)" }

  # The alarms on one metric of a function, the schedule group or the undelivered queue: each
  # entry names its severity and what differs from alarm_defaults. The sync-executions alarm (metric
  # math over three metrics) and the per-table freshness alarms (one per table) are their own
  # resources below.
  alarm_defaults = {
    statistic           = "Sum"
    period              = 3600
    evaluation_periods  = 1
    datapoints_to_alarm = null
    threshold           = 1
    comparison_operator = "GreaterThanOrEqualToThreshold"
    treat_missing_data  = "notBreaching"
    actions_enabled     = true
  }
  metric_alarms = {
    exporter_errors = {
      severity          = "P3"
      alarm_name        = "exporter-errors"
      alarm_description = "An exporter invocation raised. Step Functions retries transient errors and splits timeouts; a chunk that still fails pages through the sync execution (P1 and sync-executions-failed). ${var.runbook_url}#export-failed"
      namespace         = "AWS/Lambda"
      metric_name       = "Errors"
      dimensions        = { FunctionName = var.exporter_function_name }
    }
    exporter_throttles = {
      severity          = "P3"
      alarm_name        = "exporter-throttles"
      alarm_description = "Exporter invocations were throttled (Step Functions retries Lambda.TooManyRequestsException; a chunk that still fails pages through the sync execution). ${var.runbook_url}#lambda-throttled"
      namespace         = "AWS/Lambda"
      metric_name       = "Throttles"
      dimensions        = { FunctionName = var.exporter_function_name }
    }
    reconciler_throttles = {
      severity            = "P1"
      alarm_name          = "reconciler-throttles"
      alarm_description   = "The reconciler has been throttled for 15 minutes: its hourly checks and the sync executions' pages wait in Lambda's queue (up to an hour, then the alarms topic). ${var.runbook_url}#lambda-throttled"
      namespace           = "AWS/Lambda"
      metric_name         = "Throttles"
      dimensions          = { FunctionName = var.reconciler_function_name }
      period              = 300
      evaluation_periods  = 3
      datapoints_to_alarm = 3
    }
    # EventBridge Scheduler metrics (namespace AWS/Scheduler, dimension ScheduleGroup): attempts
    # that failed at the target, and invocations given up after the schedule's retry policy.
    scheduler_target_errors = {
      severity          = "P3"
      alarm_name        = "scheduler-target-errors"
      alarm_description = "Starting the hourly sync or invoking the reconciler failed at the target; Scheduler retries, and an invocation it gives up pages (scheduler-invocations-dropped, undelivered queue). ${var.runbook_url}#schedule-failed"
      namespace         = "AWS/Scheduler"
      metric_name       = "TargetErrorCount"
      dimensions        = { ScheduleGroup = var.schedule_group_name }
    }
    scheduler_invocations_dropped = {
      severity          = "P1"
      alarm_name        = "scheduler-invocations-dropped"
      alarm_description = "An hourly sync or reconciler run was not started: Scheduler gave up after its retries. ${var.runbook_url}#schedule-failed"
      namespace         = "AWS/Scheduler"
      metric_name       = "InvocationDroppedCount"
      dimensions        = { ScheduleGroup = var.schedule_group_name }
    }
    undelivered = {
      severity          = "P1"
      alarm_name        = "undelivered"
      alarm_description = "A schedule invocation or a sync status change (a page) could not be delivered and sits in the undelivered queue. ${var.runbook_url}#undelivered"
      namespace         = "AWS/SQS"
      metric_name       = "ApproximateNumberOfMessagesVisible"
      dimensions        = { QueueName = var.undelivered_queue_name }
      statistic         = "Maximum"
      period            = 300
    }
    exporter_duration = {
      severity            = "P3"
      alarm_name          = "exporter-duration-near-timeout"
      alarm_description   = "An exporter invocation used more than ${floor(var.duration_alarm_ratio * 100)}% of its timeout: chunks are too large (lower chunk_minutes or raise the timeout). ${var.runbook_url}#lambda-timeout"
      namespace           = "AWS/Lambda"
      metric_name         = "Duration"
      dimensions          = { FunctionName = var.exporter_function_name }
      statistic           = "Maximum"
      threshold           = floor(var.exporter_timeout_seconds * 1000 * var.duration_alarm_ratio)
      comparison_operator = "GreaterThanThreshold"
    }
    reconciler_errors = {
      severity          = "P1"
      alarm_name        = "reconciler-errors"
      alarm_description = "The reconciler Lambda could not run at all: nothing is checking the pipeline. ${var.runbook_url}#reconciler-blind"
      namespace         = "AWS/Lambda"
      metric_name       = "Errors"
      dimensions        = { FunctionName = var.reconciler_function_name }
    }
    # The freshness alarms only post to chat; this one pages when nothing measures freshness at all
    # (Lambda emits Invocations only when invoked: two hours without a datapoint is breaching). Off
    # while the schedules are disabled on purpose (var.reconciler_scheduled).
    reconciler_silent = {
      severity            = "P1"
      alarm_name          = "reconciler-silent"
      alarm_description   = "The reconciler has not run for two hours (its hourly schedule and the sync's Reconcile step both invoke it): nothing checks loads, merges or freshness. ${var.runbook_url}#reconciler-blind"
      namespace           = "AWS/Lambda"
      metric_name         = "Invocations"
      dimensions          = { FunctionName = var.reconciler_function_name }
      evaluation_periods  = 2
      datapoints_to_alarm = 2
      comparison_operator = "LessThanThreshold"
      treat_missing_data  = "breaching"
      actions_enabled     = var.reconciler_scheduled
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = { for key, alarm in local.metric_alarms : key => merge(local.alarm_defaults, alarm) }

  alarm_name          = "${var.name}-${each.value.alarm_name}"
  alarm_description   = "${local.alarm_labels[each.value.severity]} ${each.value.alarm_description}"
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = each.value.treat_missing_data
  actions_enabled     = each.value.actions_enabled
  alarm_actions       = local.alarm_topics[each.value.severity]
  ok_actions          = local.alarm_topics[each.value.severity]
  tags                = merge(var.tags, { severity = each.value.severity })
}

# Each of these alarms was its own resource until the map above (issue 13): the moves keep an
# applied environment's alarms in place.
moved {
  from = aws_cloudwatch_metric_alarm.exporter_errors
  to   = aws_cloudwatch_metric_alarm.metric["exporter_errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.exporter_throttles
  to   = aws_cloudwatch_metric_alarm.metric["exporter_throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.reconciler_throttles
  to   = aws_cloudwatch_metric_alarm.metric["reconciler_throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.scheduler_target_errors
  to   = aws_cloudwatch_metric_alarm.metric["scheduler_target_errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.scheduler_invocations_dropped
  to   = aws_cloudwatch_metric_alarm.metric["scheduler_invocations_dropped"]
}

moved {
  from = aws_cloudwatch_metric_alarm.undelivered
  to   = aws_cloudwatch_metric_alarm.metric["undelivered"]
}

moved {
  from = aws_cloudwatch_metric_alarm.exporter_duration
  to   = aws_cloudwatch_metric_alarm.metric["exporter_duration"]
}

moved {
  from = aws_cloudwatch_metric_alarm.reconciler_errors
  to   = aws_cloudwatch_metric_alarm.metric["reconciler_errors"]
}

resource "aws_cloudwatch_metric_alarm" "state_machine_failures" {
  alarm_name          = "${var.name}-sync-executions-failed"
  alarm_description   = "${local.alarm_labels.P1} A sync execution failed, timed out or was aborted (its P1, from the reconciler, names the stage, counts and the chunks to re-run). ${var.runbook_url}#sync-execution-failed"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topics.P1
  ok_actions          = local.alarm_topics.P1
  tags                = merge(var.tags, { severity = "P1" })

  metric_query {
    id          = "unsuccessful"
    expression  = "failed + timed_out + aborted"
    label       = "Unsuccessful executions"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { failed = "ExecutionsFailed", timed_out = "ExecutionsTimedOut", aborted = "ExecutionsAborted" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = var.state_machine_arn }
        stat        = "Sum"
        period      = 3600
      }
    }
  }
}

# Freshness: the reconciler's FreshnessLagSeconds (Aurora MAX(watermark) - FINAL MAX(watermark)).
# P3, an SLA breach: chat only, like the reconciler's own `freshness` alert. Missing data is
# breaching, so chat also hears when a table stops being measured; a reconciler that stops running
# altogether pages (reconciler-silent), and one that cannot read a table pages after
# SELF_ALERT_P1_AFTER runs (its `reconciler` alert).
resource "aws_cloudwatch_metric_alarm" "freshness" {
  for_each = var.freshness_sla_minutes

  alarm_name          = "${var.name}-freshness-${each.key}"
  alarm_description   = "${local.alarm_labels.P3} FINAL.${each.key} is more than ${each.value} minutes behind Aurora (freshness_sla_minutes), or the reconciler stopped reporting. ${var.runbook_url}#sync-lagging"
  namespace           = var.metrics_namespace
  metric_name         = "FreshnessLagSeconds"
  dimensions          = { service = var.service_name, table = each.key }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = each.value * 60
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_topics.P3
  ok_actions          = local.alarm_topics.P3
  tags                = merge(var.tags, { severity = "P3" })
}

resource "aws_cloudwatch_dashboard" "sync" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Exporter invocations, errors, throttles"
          region = local.region
          stat   = "Sum"
          period = 3600
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", var.exporter_function_name],
            [".", "Errors", ".", "."],
            [".", "Throttles", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title       = "Exporter duration (max) vs timeout"
          region      = local.region
          stat        = "Maximum"
          period      = 3600
          metrics     = [["AWS/Lambda", "Duration", "FunctionName", var.exporter_function_name]]
          annotations = { horizontal = [{ label = "timeout", value = var.exporter_timeout_seconds * 1000 }] }
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Sync executions"
          region = local.region
          stat   = "Sum"
          period = 3600
          metrics = [
            ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", var.state_machine_arn],
            [".", "ExecutionsFailed", ".", "."],
            [".", "ExecutionsTimedOut", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Reconciler invocations, errors, throttles"
          region = local.region
          stat   = "Sum"
          period = 3600
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", var.reconciler_function_name],
            [".", "Errors", ".", "."],
            [".", "Throttles", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title   = "Freshness lag per table (s): reconciler"
          region  = local.region
          stat    = "Maximum"
          period  = 3600
          metrics = [for t in keys(var.freshness_sla_minutes) : [var.metrics_namespace, "FreshnessLagSeconds", "service", var.service_name, "table", t]]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title   = "Watermark lag per table (s): exporter"
          region  = local.region
          stat    = "Maximum"
          period  = 3600
          metrics = [for t in keys(var.freshness_sla_minutes) : [var.metrics_namespace, "WatermarkLag", "service", var.service_name, "table", t]]
        }
      },
      {
        type = "metric", x = 0, y = 18, width = 24, height = 6
        properties = {
          title   = "Exported rows per table"
          region  = local.region
          stat    = "Sum"
          period  = 3600
          metrics = [for t in keys(var.freshness_sla_minutes) : [var.metrics_namespace, "ExportedRows", "service", var.service_name, "table", t]]
        }
      },
    ]
  })
}
