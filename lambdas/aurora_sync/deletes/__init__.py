"""Hard-delete detection (tables.json `delete_detection`): which keys FINAL holds that Aurora no
longer has, found by comparing hashed buckets of both sides' primary keys (keyhash.py, compare.py)."""
