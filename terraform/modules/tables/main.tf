# One source of truth: the SSM parameters, the S3 notifications and the per-table Snowflake objects
# all come from these outputs, so they cannot disagree.
#
# Parameter Store holds at most 8 KB in one parameter (Advanced tier; Standard: 4 KB), and an entry
# takes 350-900 bytes, so the list is one parameter per table under an index; all of them sit
# directly under parameter_name, so one paginated GetParametersByPath returns them
# (aurora_sync.table_index reads exactly these strings; tests compare them with its renderer):
#   <parameter_name>/<schema.table>  the entry, minified (`$` -> `-`: parameter names allow a-zA-Z0-9_.-/)
#   <parameter_name>/index-<k>       {"part": k, "tables": [...]}: the index's names beyond its first part
#   <parameter_name>                 {"count", "entries", "parts", "sha256", "tables": [first part]}
# 60 schema.table names to a part, in tables.json's order (the order runs take): at most 127
# characters each, so a part always fits 8 KB.
# sha256 covers every entry's name and value, so a reader can tell a finished apply from one that
# stopped between the entries and the index (which the root writes last).
locals {
  tables  = jsondecode(var.tables_json)
  by_name = { for t in local.tables : t.table_name => t }

  entries = {
    for name, t in local.by_name : "${var.parameter_name}/${replace(name, "$", "-")}" => jsonencode(t)
  }
  names = [for t in local.tables : t.table_name] # tables.json's order: the order of every run
  parts = chunklist(local.names, 60)
  index_parts = {
    for i, part in local.parts : "${var.parameter_name}/index-${i + 1}" => jsonencode({ part = i + 1, tables = part }) if i > 0
  }
  index = jsonencode({
    entries = "${var.parameter_name}/"
    count   = length(local.names)
    parts   = max(1, length(local.parts))
    sha256  = sha256(join("", [for name in keys(local.by_name) : "${name}=${jsonencode(local.by_name[name])}\n"]))
    tables  = length(local.parts) > 0 ? local.parts[0] : []
  })

  # Parameter Store's value limit (PutParameter API reference: Standard 4 KB, Advanced 8 KB; the
  # parameters are Intelligent-Tiering, which picks Advanced above 4 KB).
  value_limit = 8192
  too_large   = [for name, value in local.entries : "${name} (${length(value)} characters)" if length(value) > local.value_limit]
}
