SELECT ${columns}${tombstone_column}
  FROM ${source}
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY ${key_columns}
    ORDER BY ${watermark} DESC NULLS LAST${tombstone_order}, "_LOADED_AT" DESC, "_SOURCE_FILE" DESC, "_SOURCE_ROW" DESC
  ) = 1
