"""Thin adapters over AWS, Vault, PostgreSQL and Snowflake that raise the errors of aurora_sync.errors."""
