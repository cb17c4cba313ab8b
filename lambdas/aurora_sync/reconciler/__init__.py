"""The reconciler Lambda: payloads, the checks, and the service that gathers their evidence."""
