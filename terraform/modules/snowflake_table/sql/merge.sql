MERGE INTO ${final} AS t
USING (
  SELECT ${columns}${tombstone_column}
  FROM ${source}
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY ${key_columns}
    ORDER BY ${watermark} DESC NULLS LAST${tombstone_order}, "_LOADED_AT" DESC, "_SOURCE_FILE" DESC, "_SOURCE_ROW" DESC
  ) = 1
) AS s
ON ${key_join}${tombstone_clause}
WHEN MATCHED${not_tombstone} AND (t.${watermark} IS NULL OR s.${watermark} >= t.${watermark}) THEN UPDATE SET
  ${update_set}
WHEN NOT MATCHED${not_tombstone} THEN INSERT (${columns}) VALUES (${insert_values})
