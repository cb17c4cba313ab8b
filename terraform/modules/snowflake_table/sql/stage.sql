CREATE STAGE IF NOT EXISTS ${stage}
  URL = '${stage_url}'
  STORAGE_INTEGRATION = ${storage_integration}
  FILE_FORMAT = (FORMAT_NAME = '${file_format}')
