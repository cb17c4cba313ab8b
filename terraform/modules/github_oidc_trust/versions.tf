# Provider-free: the trust policy is plain JSON, so tests evaluate it offline (terraform apply on
# local state) and any stack that creates the deploy and plan roles can use it.
terraform {
  required_version = ">= 1.5.0"
}
