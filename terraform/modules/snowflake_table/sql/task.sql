CREATE TASK IF NOT EXISTS ${task}
  WAREHOUSE = ${warehouse}
  SCHEDULE = '${schedule}'
  QUERY_TAG = '${query_tag}'
  WHEN SYSTEM$STREAM_HAS_DATA('${stream_name}')
AS
EXECUTE IMMEDIATE $$
BEGIN
  BEGIN TRANSACTION;
  ${mark_step}${merge};
  ${audit_insert};
  ${purge_staging};
  COMMIT;
END;
$$
