MERGE INTO ${final} AS t
USING (
  ${merge_source}
) AS s
ON ${key_join}${tombstone_clause}
WHEN MATCHED${not_tombstone} AND (t.${watermark} IS NULL OR s.${watermark} >= t.${watermark}) THEN UPDATE SET
  ${update_set}
WHEN NOT MATCHED${not_tombstone} THEN INSERT (${columns}) VALUES (${insert_values})
