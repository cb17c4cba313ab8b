CREATE TABLE IF NOT EXISTS ${final} (
  ${column_definitions}${final_extra_columns},
  PRIMARY KEY (${key_columns})
)
