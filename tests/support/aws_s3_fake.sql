-- TEST-ONLY stand-in for Aurora PostgreSQL's aws_s3 / aws_commons extensions (query export only).
--
-- Production calls aws_s3.query_export_to_s3 on the Aurora writer; that extension exists only on RDS.
-- This file recreates its documented interface so the exporter's `aurora_s3` mode runs for real
-- against a local PostgreSQL and moto S3. Install it with tests/support/aws_s3_fake.py, never by hand:
-- the installer also copies the relay, starts the uploader, writes aws_s3_fake.settings and checks
-- that the server can start the relay and reach the uploader.
--
-- Documented interface followed (Aurora User Guide, "Exporting data from an Aurora PostgreSQL DB
-- cluster to Amazon S3", function reference):
--   aws_commons._s3_uri_1 (bucket text, file_path text, region text)
--   aws_commons.create_s3_uri(bucket text, file_path text, region text) -> aws_commons._s3_uri_1
--   aws_s3.query_export_to_s3(query text, s3_info aws_commons._s3_uri_1, options text, kms_key text)
--   aws_s3.query_export_to_s3(query text, bucket text, file_path text, region text, options text,
--                             kms_key text)
--   OUT rows_uploaded bigint, OUT files_uploaded bigint, OUT bytes_uploaded bigint
--   options: the argument list of PostgreSQL COPY, e.g. 'format csv, header true'.
--   Big exports are split into files of about 6 GB: file_path, file_path_part2, file_path_part3, ...
--   rows_uploaded is "the number of table rows" uploaded, so the CSV header line is not counted.
--   (kms_key appears in the current docs for both forms; older revisions omit it.)
--   Not documented, so configurable: whether _part2.. files repeat the CSV header, and whether an
--   export of zero rows uploads a file.
--
-- How the stand-in works, and why:
-- * aws_s3.query_export_to_s3 is SECURITY INVOKER. It materialises the caller's query into the
--   session temp table pg_temp.aws_s3_fake_snapshot (CREATE TEMP TABLE ... AS <query>) with the
--   caller's own privileges, as Aurora runs the query as the calling user: an exporter role without
--   SELECT on a table fails here exactly as it would on Aurora. The query text is never spliced into
--   a statement that runs with more privileges than the caller has.
-- * aws_s3_fake.export_snapshot is SECURITY DEFINER, owned by the installing superuser, because
--   COPY ... TO PROGRAM and pg_read_file need superuser (the real extension is C code in the server).
--   It only ever reads that session's own temp snapshot table, checks that the table's owner was
--   granted EXECUTE on aws_s3.query_export_to_s3, and runs
--     COPY (SELECT * FROM pg_temp.aws_s3_fake_snapshot) TO PROGRAM '<python> -I <relay> ...' WITH (options)
--   The program runs as the server's OS user, which may not be able to read the checkout (a clone
--   in a 0700 folder), so it needs nothing from there: the relay (tests/support/aws_s3_relay.py) is
--   standard library only, copied into work_dir, run by the system python3. It forwards the stream
--   over a Unix socket in work_dir to the uploader in the test process that installed the stand-in
--   (tests/support/aws_s3_uploader_service.py), which splits it at record boundaries, uploads the
--   parts to moto with boto3 and answers "files bytes rows"; the relay writes that answer to a stats
--   file read back here.
-- * Everything the caller controls that reaches the shell (bucket, file_path, region, kms_key) is
--   validated against a strict pattern and goes into the JSON request for the uploader, which is
--   passed as one single-quoted shell word, like every other argument: a word holding a single quote
--   or control character is rejected, never escaped. The whole program string is then a SQL literal (%L).
--   options are checked against the COPY option grammar so they cannot close the WITH (...) list.

CREATE SCHEMA IF NOT EXISTS aws_commons;
CREATE SCHEMA IF NOT EXISTS aws_s3;
CREATE SCHEMA IF NOT EXISTS aws_s3_fake;

COMMENT ON SCHEMA aws_s3_fake IS
    'TEST-ONLY internals of the aws_s3.query_export_to_s3 stand-in (tests/support/aws_s3_fake.sql)';

DO $$
BEGIN
    IF to_regtype('aws_commons._s3_uri_1') IS NULL THEN
        CREATE TYPE aws_commons._s3_uri_1 AS (bucket text, file_path text, region text);
    END IF;
END
$$;

-- Written by install_aws_s3_fake() / set_split(); one row. Only the superuser reads it.
CREATE TABLE IF NOT EXISTS aws_s3_fake.settings (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    endpoint_url      text    NOT NULL,
    -- Runs the relay: any Python 3 the server's OS user can execute (the relay is stdlib only).
    python            text    NOT NULL,
    -- The relay as copied into work_dir, and the socket of the uploader it forwards the stream to.
    relay             text    NOT NULL,
    uploader_socket   text    NOT NULL,
    region            text    NOT NULL DEFAULT 'us-east-1',
    -- Aurora: "each with a maximum size of approximately 6 GB"; tests set it small to force parts.
    max_file_bytes    bigint  NOT NULL DEFAULT 6442450944 CHECK (max_file_bytes > 0),
    -- The docs do not say whether _part2.. files repeat the CSV header: 'first' or 'all'.
    header_on_parts   text    NOT NULL DEFAULT 'first' CHECK (header_on_parts IN ('first', 'all')),
    -- The docs do not say what an empty result uploads: 'no_file' (0 files) or 'one_file'.
    empty_result      text    NOT NULL DEFAULT 'no_file' CHECK (empty_result IN ('no_file', 'one_file')),
    -- Holds the relay, the uploader's socket and the per-backend header probe and stats files
    -- (installer: data_directory).
    work_dir          text    NOT NULL DEFAULT '/tmp' CHECK (work_dir ~ '^/[A-Za-z0-9._/-]*$')
);
REVOKE ALL ON aws_s3_fake.settings FROM PUBLIC;

CREATE OR REPLACE FUNCTION aws_commons.create_s3_uri(bucket text, file_path text, region text)
RETURNS aws_commons._s3_uri_1
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ROW(bucket, file_path, region)::aws_commons._s3_uri_1 $$;

-- One word for /bin/sh: single-quoted, so nothing inside is special; a value that holds a single
-- quote (the only way out of the quotes) or a control character is refused, never escaped.
CREATE OR REPLACE FUNCTION aws_s3_fake.sh_word(value text, what text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET standard_conforming_strings = on
AS $fn$
BEGIN
    IF value IS NULL OR value = '' THEN
        RAISE EXCEPTION 'aws_s3 fake: % must not be empty', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF strpos(value, '''') > 0 OR value ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'aws_s3 fake: % must not contain a single quote or a control character', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN '''' || value || '''';
END
$fn$;

-- Validates `options` against the COPY option grammar and returns the COPY format (text, csv or
-- binary), which the uploader needs to find record boundaries. A list that does not parse is refused
-- before it is spliced into WITH (...): only option names and self-contained values (words, quoted
-- strings, $$..$$, a column list or *) are accepted, so nothing can close the list early.
CREATE OR REPLACE FUNCTION aws_s3_fake.copy_format(options text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET standard_conforming_strings = on
AS $fn$
DECLARE
    ident constant text := $re$(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")$re$;
    val text := $re$[A-Za-z0-9_.+-]+|'(?:[^']|'')*'|[Ee]'(?:[^'\\]|''|\\.)*'|\$\$[^$]*\$\$|\*$re$;
    item text;
    rest text := options;
    m text[];
    fmt text := 'text';
BEGIN
    IF options IS NULL OR btrim(options) = '' THEN
        RETURN fmt;
    END IF;
    val := val || '|\(\s*' || ident || '(?:\s*,\s*' || ident || ')*\s*\)';
    item := '^(\s*([A-Za-z_]+)(?:\s+(' || val || '))?\s*(,|$))';
    LOOP
        m := regexp_match(rest, item);
        IF m IS NULL THEN
            RAISE EXCEPTION 'aws_s3 fake: options is not a COPY option list: %', options
                USING ERRCODE = 'syntax_error',
                      HINT = 'Use the COPY option syntax, e.g. ''format csv, header true''.';
        END IF;
        CASE lower(m[2])
            WHEN 'format' THEN
                fmt := lower(btrim(m[3], ''''));
            WHEN 'quote', 'escape' THEN
                RAISE EXCEPTION 'aws_s3 fake: the % option is not supported by the stand-in', lower(m[2])
                    USING ERRCODE = 'feature_not_supported',
                          DETAIL = 'The uploader finds CSV record ends by counting double quotes.';
            ELSE
                NULL;
        END CASE;
        rest := substr(rest, length(m[1]) + 1);
        EXIT WHEN m[4] = '';
    END LOOP;
    IF fmt NOT IN ('text', 'csv', 'binary') THEN
        RAISE EXCEPTION 'aws_s3 fake: COPY format "%" not recognized', fmt USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN fmt;
END
$fn$;

-- The shell command COPY ... TO PROGRAM runs: every word single-quoted by sh_word(). `args` holds
-- option/value pairs; the options are constants of this file, the values may come from the caller.
CREATE OR REPLACE FUNCTION aws_s3_fake.relay_command(cfg aws_s3_fake.settings, args text[])
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET standard_conforming_strings = on
AS $fn$
DECLARE
    cmd text;
    i int;
BEGIN
    cmd := format('%s -I %s --socket %s',
                  aws_s3_fake.sh_word(cfg.python, 'python'),
                  aws_s3_fake.sh_word(cfg.relay, 'relay'),
                  aws_s3_fake.sh_word(cfg.uploader_socket, 'uploader_socket'));
    FOR i IN 1 .. coalesce(array_length(args, 1), 0) BY 2 LOOP
        cmd := cmd || ' ' || args[i] || ' ' || aws_s3_fake.sh_word(args[i + 1], args[i]);
    END LOOP;
    RETURN cmd;
END
$fn$;

-- The relay's answer for this call: {ok, files, bytes, rows}, {ok} or {error, word, ...}; NULL when
-- it left none (it did not start) or an older call's (another nonce).
CREATE OR REPLACE FUNCTION aws_s3_fake.read_stats(stats_file text, nonce text)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    stats text[];
BEGIN
    stats := regexp_split_to_array(btrim(pg_read_file(stats_file), E' \n'), ' ');
    RETURN CASE WHEN stats[1] = nonce THEN stats[2:] END;
EXCEPTION WHEN undefined_file THEN
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION aws_s3_fake.read_stats(text, text) FROM PUBLIC;

-- Per-backend work files: bounded in number, and a stale stats file never matches a new nonce.
CREATE OR REPLACE FUNCTION aws_s3_fake.work_file(cfg aws_s3_fake.settings, suffix text)
RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT cfg.work_dir || '/aws_s3_fake-' || pg_backend_pid() || suffix $$;

-- Install-time check that the server's OS user can start the relay and the relay reaches the
-- uploader; the relay's own message (e.g. no uploader listening) becomes the error.
CREATE OR REPLACE FUNCTION aws_s3_fake.self_check()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $fn$
DECLARE
    cfg aws_s3_fake.settings;
    stats_file text;
    nonce text := md5(random()::text || clock_timestamp()::text);
    stats text[];
BEGIN
    SELECT * INTO STRICT cfg FROM aws_s3_fake.settings;
    stats_file := aws_s3_fake.work_file(cfg, '.stats');
    BEGIN
        EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
                       aws_s3_fake.relay_command(cfg, ARRAY['--mode', 'check', '--stats-file', stats_file,
                                                            '--nonce', nonce]));
    EXCEPTION WHEN external_routine_exception THEN
        stats := aws_s3_fake.read_stats(stats_file, nonce);
        IF stats IS NULL THEN
            RAISE;
        END IF;
        RAISE EXCEPTION 'aws_s3 fake: %', array_to_string(stats, ' ') USING ERRCODE = 'external_routine_exception';
    END;
END
$fn$;
REVOKE ALL ON FUNCTION aws_s3_fake.self_check() FROM PUBLIC;

CREATE OR REPLACE FUNCTION aws_s3_fake.export_snapshot(
    p_bucket text, p_file_path text, p_region text, p_options text, p_kms_key text)
RETURNS TABLE (rows_out bigint, files_out bigint, bytes_out bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $fn$
DECLARE
    cfg aws_s3_fake.settings;
    snap_kind "char";
    snap_owner oid;
    fmt text;
    with_clause text := '';
    header_file text;
    stats_file text;
    nonce text := md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text);
    request text;
    args text[];
    copied bigint;
    stats text[];
    err_message text;
    err_state text;
BEGIN
    SELECT * INTO cfg FROM aws_s3_fake.settings;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'aws_s3 fake: not configured; call install_aws_s3_fake()'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- Only this session's own snapshot, and only a plain table: a view would run the caller's code
    -- with this function's (superuser) privileges.
    SELECT c.relkind, c.relowner INTO snap_kind, snap_owner
      FROM pg_class c
     WHERE c.relnamespace = pg_my_temp_schema() AND c.relname = 'aws_s3_fake_snapshot';
    IF snap_kind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION 'aws_s3 fake: no export snapshot in this session; call aws_s3.query_export_to_s3'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT (has_function_privilege(snap_owner,
                'aws_s3.query_export_to_s3(text, aws_commons._s3_uri_1, text, text)', 'EXECUTE')
            OR has_function_privilege(snap_owner,
                'aws_s3.query_export_to_s3(text, text, text, text, text, text)', 'EXECUTE')) THEN
        RAISE EXCEPTION 'permission denied for function query_export_to_s3' USING ERRCODE = 'insufficient_privilege';
    END IF;

    IF p_bucket IS NULL OR p_bucket !~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' THEN
        RAISE EXCEPTION 'aws_s3 fake: invalid bucket name %', quote_nullable(p_bucket)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_file_path IS NULL OR octet_length(p_file_path) > 1024 OR p_file_path !~ '^[A-Za-z0-9!_.*()/=+:@,~$-]+$' THEN
        RAISE EXCEPTION 'aws_s3 fake: invalid file_path %', quote_nullable(p_file_path)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The stand-in accepts letters, digits and !_.*()/=+:@,~$- only.';
    END IF;
    p_region := coalesce(nullif(p_region, ''), cfg.region);
    IF p_region <> cfg.region THEN
        -- Aurora: "Currently, this value must be the same AWS Region as that of the exporting DB cluster."
        RAISE EXCEPTION 'aws_s3 fake: region % is not the DB cluster''s region %', p_region, cfg.region
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kms_key IS NOT NULL AND (octet_length(p_kms_key) > 2048 OR p_kms_key !~ '^[A-Za-z0-9:/_.+=@-]+$') THEN
        RAISE EXCEPTION 'aws_s3 fake: invalid kms_key %', p_kms_key USING ERRCODE = 'invalid_parameter_value';
    END IF;

    fmt := aws_s3_fake.copy_format(p_options);
    IF coalesce(btrim(p_options), '') <> '' THEN
        with_clause := format(' WITH (%s)', p_options);
    END IF;

    header_file := aws_s3_fake.work_file(cfg, '.header');
    stats_file := aws_s3_fake.work_file(cfg, '.stats');
    -- What COPY writes for no rows with these options is exactly the header (or nothing): the
    -- uploader strips it from the stream and repeats it on later parts when header_on_parts = 'all'.
    EXECUTE format('COPY (SELECT * FROM pg_temp.aws_s3_fake_snapshot LIMIT 0) TO %L%s', header_file, with_clause);

    -- One shell word of JSON: json_build_object escapes control characters, and sh_word refuses the
    -- word if any value holds a single quote (the caller's are already refused above).
    request := json_build_object(
        'endpoint_url', cfg.endpoint_url, 'region', p_region, 'bucket', p_bucket, 'key', p_file_path,
        'format', fmt, 'header_on_parts', cfg.header_on_parts, 'max_file_bytes', cfg.max_file_bytes,
        'empty_result', cfg.empty_result, 'kms_key', p_kms_key)::text;
    args := ARRAY['--header-file', header_file, '--stats-file', stats_file, '--nonce', nonce,
                  '--request', request];

    BEGIN
        EXECUTE format('COPY (SELECT * FROM pg_temp.aws_s3_fake_snapshot) TO PROGRAM %L%s',
                       aws_s3_fake.relay_command(cfg, args), with_clause);
        GET DIAGNOSTICS copied = ROW_COUNT;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_message = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE;
        stats := aws_s3_fake.read_stats(stats_file, nonce);
        IF stats[1] = 'error' THEN
            RAISE EXCEPTION 'aws_s3 fake: upload to s3://%/% failed: %', p_bucket, p_file_path,
                array_to_string(stats[2:], ' ')
                USING ERRCODE = 'external_routine_exception';
        END IF;
        RAISE EXCEPTION 'aws_s3 fake: %', err_message
            USING ERRCODE = err_state,
                  HINT = 'The relay did not report; see the PostgreSQL server log for its stderr.';
    END;

    stats := aws_s3_fake.read_stats(stats_file, nonce);
    IF stats[1] IS DISTINCT FROM 'ok' OR array_length(stats, 1) <> 4 THEN
        RAISE EXCEPTION 'aws_s3 fake: the relay did not report the upload''s result' USING ERRCODE = 'external_routine_exception';
    END IF;
    -- The uploader counts records itself (text/csv); disagreeing with COPY means it split wrongly.
    IF stats[4]::bigint >= 0 AND stats[4]::bigint <> copied THEN
        RAISE EXCEPTION 'aws_s3 fake: uploader saw % records but COPY wrote % rows', stats[4], copied
            USING ERRCODE = 'internal_error';
    END IF;
    rows_out := copied;
    files_out := stats[2]::bigint;
    bytes_out := stats[3]::bigint;
    RETURN NEXT;
END
$fn$;

-- Runs the caller's query as the caller (SECURITY INVOKER) into the session snapshot, then hands
-- over to export_snapshot. Shared by both aws_s3 overloads.
CREATE OR REPLACE FUNCTION aws_s3_fake.run_export(
    p_query text, p_bucket text, p_file_path text, p_region text, p_options text, p_kms_key text)
RETURNS TABLE (rows_uploaded bigint, files_uploaded bigint, bytes_uploaded bigint)
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF p_query IS NULL OR btrim(p_query) = '' THEN
        RAISE EXCEPTION 'aws_s3 fake: query must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass('pg_temp.aws_s3_fake_snapshot') IS NOT NULL THEN
        DROP TABLE pg_temp.aws_s3_fake_snapshot;
    END IF;
    EXECUTE 'CREATE TEMP TABLE aws_s3_fake_snapshot ON COMMIT DROP AS ' || p_query;
    RETURN QUERY SELECT e.rows_out, e.files_out, e.bytes_out
                   FROM aws_s3_fake.export_snapshot(p_bucket, p_file_path, p_region, p_options, p_kms_key) AS e;
    DROP TABLE pg_temp.aws_s3_fake_snapshot;
END
$fn$;

-- Internals are callable by anyone on purpose: export_snapshot enforces the EXECUTE grant on
-- aws_s3.query_export_to_s3 itself, so the grants an RDS admin gives (USAGE on aws_s3 and
-- aws_commons, EXECUTE on the aws_s3 functions) are all an exporter role needs here too.
GRANT USAGE ON SCHEMA aws_s3_fake TO PUBLIC;
GRANT EXECUTE ON FUNCTION aws_s3_fake.run_export(text, text, text, text, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION aws_s3_fake.export_snapshot(text, text, text, text, text) TO PUBLIC;

CREATE OR REPLACE FUNCTION aws_s3.query_export_to_s3(
    query text,
    s3_info aws_commons._s3_uri_1,
    options text DEFAULT NULL,
    kms_key text DEFAULT NULL)
RETURNS TABLE (rows_uploaded bigint, files_uploaded bigint, bytes_uploaded bigint)
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM aws_s3_fake.run_export(query, (s3_info).bucket, (s3_info).file_path, (s3_info).region,
                                         options, kms_key)
$$;

-- The documented "alternate input parameters" form: same export, S3 location as separate arguments.
CREATE OR REPLACE FUNCTION aws_s3.query_export_to_s3(
    query text,
    bucket text,
    file_path text,
    region text DEFAULT NULL,
    options text DEFAULT NULL,
    kms_key text DEFAULT NULL)
RETURNS TABLE (rows_uploaded bigint, files_uploaded bigint, bytes_uploaded bigint)
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM aws_s3_fake.run_export(query, bucket, file_path, region, options, kms_key)
$$;

REVOKE ALL ON FUNCTION aws_s3.query_export_to_s3(text, aws_commons._s3_uri_1, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION aws_s3.query_export_to_s3(text, text, text, text, text, text) FROM PUBLIC;
