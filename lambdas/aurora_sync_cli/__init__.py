"""aurora-sync: the operator CLI."""
