DELETE FROM ${staging}
  WHERE "_LOADED_AT" < DATEADD(DAY, -${staging_retention_days}, CURRENT_TIMESTAMP())
