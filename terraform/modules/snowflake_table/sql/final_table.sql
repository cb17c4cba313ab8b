CREATE TABLE IF NOT EXISTS ${final} (
  ${column_definitions},
  PRIMARY KEY (${key_columns})
)
