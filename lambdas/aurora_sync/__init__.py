"""Domain package shared by the exporter and reconciler Lambdas."""
