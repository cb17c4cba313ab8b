# Alarms page through the alarms topic; the dashboard shows the same signals side by side.

resource "aws_cloudwatch_metric_alarm" "exporter_errors" {
  alarm_name          = "${var.name}-exporter-errors"
  alarm_description   = "The exporter Lambda raised (a table failed, or the run could not start). ${var.runbook_url}#export-failed"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = var.exporter_function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "exporter_duration" {
  alarm_name          = "${var.name}-exporter-duration-near-timeout"
  alarm_description   = "An exporter invocation used more than ${floor(var.duration_alarm_ratio * 100)}% of its timeout: chunks are too large (lower chunk_minutes or raise the timeout). ${var.runbook_url}#lambda-timeout"
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = var.exporter_function_name }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = floor(var.exporter_timeout_seconds * 1000 * var.duration_alarm_ratio)
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "reconciler_errors" {
  alarm_name          = "${var.name}-reconciler-errors"
  alarm_description   = "The reconciler Lambda could not run at all: nothing is checking the pipeline. ${var.runbook_url}#reconciler-blind"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = var.reconciler_function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "state_machine_failures" {
  alarm_name          = "${var.name}-sync-executions-failed"
  alarm_description   = "A sync execution failed, timed out or was aborted (the P1 alert names the stage and chunks). ${var.runbook_url}#sync-execution-failed"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

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
# Missing data is breaching: no metric means nothing is measuring freshness.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  for_each = var.freshness_sla_minutes

  alarm_name          = "${var.name}-freshness-${each.key}"
  alarm_description   = "FINAL.${each.key} is more than ${each.value} minutes behind Aurora (freshness_sla_minutes), or the reconciler stopped reporting. ${var.runbook_url}#sync-lagging"
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
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
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
          title  = "Reconciler invocations and errors"
          region = local.region
          stat   = "Sum"
          period = 3600
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", var.reconciler_function_name],
            [".", "Errors", ".", "."],
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
