DELETE FROM ${audit_table}
  WHERE "TABLE_NAME" = '${table_name}'
    AND "MERGED_AT" < DATEADD(DAY, -${staging_retention_days}, CURRENT_TIMESTAMP())
