LET merge_query_id VARCHAR := SQLID;
  INSERT INTO ${audit_table} ("TABLE_NAME", "QUERY_ID", "ROWS_INSERTED", "ROWS_UPDATED", "MERGED_AT")
  SELECT '${table_name}', :merge_query_id, $1, $2, CURRENT_TIMESTAMP()
  FROM TABLE(RESULT_SCAN(:merge_query_id))
