LET merge_query_id VARCHAR := SQLID;
  INSERT INTO ${audit_table} ("TABLE_NAME", "QUERY_ID", "ROWS_INSERTED", "ROWS_UPDATED", "ROWS_DELETED", "ROWS_MARKED", "MERGED_AT")
  SELECT '${table_name}', :merge_query_id, $1, ${audit_updated}, ${audit_deleted}, ${audit_marked}, CURRENT_TIMESTAMP()
  FROM TABLE(RESULT_SCAN(:merge_query_id))
