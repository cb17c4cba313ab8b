# Provider-free: tests evaluate it offline for every environment and compare the names.
terraform {
  required_version = ">= 1.5.0"
}
