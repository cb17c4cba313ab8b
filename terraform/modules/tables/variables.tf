variable "parameter_name" {
  description = "SSM name of the table index (TABLES_PARAMETER); each table's parameter is <it>/<schema.table>."
  type        = string

  validation {
    condition     = can(regex("^(/[a-zA-Z0-9_.-]+)+$", var.parameter_name))
    error_message = "parameter_name must be an SSM hierarchy name: /a/b/c of a-zA-Z0-9_.- parts."
  }
}

variable "tables_json" {
  description = "Content of the environment's tables.json: a JSON array of table entries (DESIGN.md §3)."
  type        = string

  validation {
    condition     = can(jsondecode(var.tables_json)) && startswith(trimspace(var.tables_json), "[")
    error_message = "tables.json must be a JSON array of table entries."
  }
  validation {
    # The exporter rejects unknown keys too (pydantic extra="forbid"); failing here stops a typo at plan time.
    # full_refresh has its own check below, which says what replaces it.
    condition = alltrue([
      for t in jsondecode(var.tables_json) : length(setsubtract(keys(t), [
        "table_name", "watermark_col", "primary_keys", "columns", "soft_delete_col",
        "lookback_seconds", "freshness_sla_minutes", "target_table", "full_refresh", "low_volume",
        "daily_credit_budget", "delete_detection", "max_delete_fraction",
      ])) == 0
    ])
    error_message = "A tables.json entry has an unknown key (allowed: table_name, watermark_col, primary_keys, columns, soft_delete_col, lookback_seconds, freshness_sla_minutes, target_table, low_volume, daily_credit_budget, delete_detection, max_delete_fraction)."
  }
  validation {
    # aurora_sync.tables.TableConfig.daily_credit_budget: a JSON number above 0 (strict there too). A
    # string or a bool converts to a number in Terraform's comparisons, so the value must also be
    # written as its own number is: jsonencode("5") is "\"5\"", jsonencode(5) is "5"; true fails tonumber.
    condition = alltrue([
      for t in jsondecode(var.tables_json) : try(
        jsonencode(t.daily_credit_budget) == jsonencode(tonumber(t.daily_credit_budget)) && t.daily_credit_budget > 0,
        false,
      ) if contains(keys(t), "daily_credit_budget")
    ])
    error_message = "A tables.json daily_credit_budget is not a number above 0 (credits a UTC day, e.g. 2.5): ${join(", ", [for t in jsondecode(var.tables_json) : t.table_name if contains(keys(t), "daily_credit_budget") && !try(jsonencode(t.daily_credit_budget) == jsonencode(tonumber(t.daily_credit_budget)) && t.daily_credit_budget > 0, false)])}."
  }
  validation {
    # aurora_sync.tables.TableConfig refuses it in the same words, also in an SSM parameter an older
    # release wrote.
    condition     = alltrue([for t in jsondecode(var.tables_json) : !contains(keys(t), "full_refresh")])
    error_message = "full_refresh is no longer a tables.json key (it made every hourly run a full export until the next apply): remove it from ${join(", ", [for t in jsondecode(var.tables_json) : t.table_name if contains(keys(t), "full_refresh")])}. For one full export set the override /aurora-snowflake-sync/<env>/overrides/<schema.table> to {\"full_refresh\": true} (the exporter deletes it after that export; docs/runbook.md, full-reload), or run `aurora-sync resync <schema.table>`."
  }
  validation {
    # A column is {name, type} and, once Aurora dropped it, "retired": true (kept in STAGING and FINAL,
    # no longer exported). A misspelt "retired" would otherwise be dropped silently by the object type.
    condition = alltrue(flatten([
      for t in jsondecode(var.tables_json) : [
        for c in try(t.columns, []) : length(setsubtract(keys(c), ["name", "type", "retired"])) == 0
      ]
    ]))
    error_message = "A tables.json column has an unknown key (allowed: name, type, retired)."
  }
  validation {
    # aurora_sync.tables.LowVolume; its value ranges are checked there, naming the field.
    condition = alltrue([
      for t in jsondecode(var.tables_json) : length(setsubtract(keys(t.low_volume), [
        "hours", "below_fraction", "weeks", "min_weeks", "min_rows",
      ])) == 0 if can(keys(t.low_volume))
    ])
    error_message = "A tables.json low_volume has an unknown key (allowed: hours, below_fraction, weeks, min_weeks, min_rows)."
  }
  validation {
    # aurora_sync.tables.DeleteDetection: the Snowflake objects differ by mode, so a misspelt one must
    # stop the plan. Key types and the fraction's range are checked in Python, naming the field.
    condition = alltrue([
      for t in jsondecode(var.tables_json) : contains(["off", "soft", "hard"], try(t.delete_detection, "off"))
    ])
    error_message = "A tables.json delete_detection must be \"off\", \"soft\" or \"hard\"."
  }
  validation {
    condition = alltrue([
      for t in jsondecode(var.tables_json) : try(t.max_delete_fraction, null) == null || (
        try(t.delete_detection, "off") != "off" && try(t.max_delete_fraction > 0 && t.max_delete_fraction <= 1, false)
      )
    ])
    error_message = "A tables.json max_delete_fraction must be a number in (0, 1], and only with delete_detection \"soft\" or \"hard\"."
  }
  validation {
    # schema.table, each part an identifier (aurora_sync.identifiers): also what the SSM names are made of.
    condition     = alltrue([for t in jsondecode(var.tables_json) : can(regex("^[A-Za-z_][A-Za-z0-9_$]*[.][A-Za-z_][A-Za-z0-9_$]*$", t.table_name))])
    error_message = "Every table_name must be schema.table, each part matching ^[A-Za-z_][A-Za-z0-9_$]*$."
  }
  validation {
    condition     = length(distinct([for t in jsondecode(var.tables_json) : t.table_name])) == length(jsondecode(var.tables_json))
    error_message = "A table_name is listed twice in tables.json."
  }
}
