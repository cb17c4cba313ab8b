"""The exporter Lambda: payloads, the export query, the per-table service and its publishing."""
