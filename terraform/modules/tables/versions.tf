# Provider-free: tests evaluate this module offline against the exporter's config model.
terraform {
  required_version = ">= 1.5.0"
}
