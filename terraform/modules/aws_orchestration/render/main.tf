locals {
  plan_task_timeout_seconds = 120
  # The P1 names this many failed chunks (with their items to re-run) besides the counts.
  failures_reported = 10

  definition = jsonencode(jsondecode(templatefile("${path.module}/../state_machine.asl.json", {
    exporter_function_arn          = var.exporter_function_arn
    reconciler_function_arn        = var.reconciler_function_arn
    execution_timeout_seconds      = var.execution_timeout_seconds
    max_concurrency                = var.max_concurrency
    split_parts                    = var.split_parts
    split_concurrency              = var.split_concurrency
    retry_interval_seconds         = var.retry.interval_seconds
    retry_max_attempts             = var.retry.max_attempts
    retry_backoff_rate             = var.retry.backoff_rate
    plan_task_timeout_seconds      = local.plan_task_timeout_seconds
    export_task_timeout_seconds    = var.export_task_timeout_seconds
    reconcile_task_timeout_seconds = var.reconcile_task_timeout_seconds
    ingestion_wait_seconds         = var.ingestion_wait_seconds
    failures_reported              = local.failures_reported
  })))

  # Worst case of an hourly run, path by path as the definition allows it: every task state makes
  # 1 + max_attempts attempts of up to its TimeoutSeconds, with the backoff between them; a chunk
  # can be retried, time out, be split (retried) and export its parts (retried) split_concurrency
  # at a time; the Map runs max_concurrency chunks at once. tests/infra recomputes this from the
  # rendered ASL itself.
  retries         = var.retry.max_attempts
  backoff_growth  = var.retry.backoff_rate == 1 ? local.retries : (pow(var.retry.backoff_rate, local.retries) - 1) / (var.retry.backoff_rate - 1)
  backoff_seconds = var.retry.interval_seconds * local.backoff_growth
  task_worst_seconds = {
    for task, timeout in {
      plan      = local.plan_task_timeout_seconds
      export    = var.export_task_timeout_seconds
      reconcile = var.reconcile_task_timeout_seconds
    } : task => (1 + local.retries) * timeout + local.backoff_seconds
  }
  # export, then split, then the parts in rounds of split_concurrency
  parts_rounds        = ceil(var.split_parts / var.split_concurrency)
  chunk_worst_seconds = (2 + local.parts_rounds) * local.task_worst_seconds.export
  map_rounds          = ceil(var.table_count / var.max_concurrency)
  worst_case_seconds = ceil(sum([
    local.task_worst_seconds.plan,
    local.map_rounds * local.chunk_worst_seconds,
    var.ingestion_wait_seconds,
    local.task_worst_seconds.reconcile,
  ]))

  # Every ending that needs a page (FAILED, TIMED_OUT, ABORTED) and the one that resolves it.
  status_change_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      stateMachineArn = [var.state_machine_arn]
      status          = ["FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED"]
    }
  })
}
