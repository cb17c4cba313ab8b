CREATE STAGE IF NOT EXISTS ${stage}
  URL = '${stage_url}'
  STORAGE_INTEGRATION = ${storage_integration}
  FILE_FORMAT = ${file_format}
