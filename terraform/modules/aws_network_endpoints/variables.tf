variable "name" {
  description = "Name prefix of the security group and endpoint Name tags (e.g. aurora-snowflake-sync-dev)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the Lambdas' subnets (with DNS support and DNS host names enabled: private DNS needs both)."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets that get an interface endpoint network interface: the Lambdas' subnets, at most one per Availability Zone."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "route_table_ids" {
  description = "Route tables that get the S3 and DynamoDB gateway routes: those of the Lambdas' subnets and, for EXPORT_MODE=aurora_s3, of Aurora's subnets (Aurora writes to S3 itself)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach the interface endpoints on 443: the Lambdas' (lambda_security_group_ids)."
  type        = list(string)

  validation {
    condition     = length(var.client_security_group_ids) > 0
    error_message = "client_security_group_ids must name the Lambdas' security groups."
  }
}

variable "gateway_services" {
  description = "Services reached through gateway endpoints (route table entries, no hourly charge): S3 (exports, manifests; Aurora's own exports) and DynamoDB (alert state). Leave out one the route tables already route through an endpoint of this VPC."
  type        = list(string)
  default     = ["s3", "dynamodb"]
  nullable    = false

  validation {
    condition     = length(setsubtract(var.gateway_services, ["s3", "dynamodb"])) == 0
    error_message = "gateway_services may contain only s3 and dynamodb (the only gateway endpoint services)."
  }
}

variable "interface_services" {
  description = "Services reached through interface endpoints with private DNS (service name after com.amazonaws.<region>.). Default: what the Lambdas call (ssm: table list, overrides, CA bundle; kms: fallback credentials; sns: alerts), sts (Vault's AWS auth, when Vault resolves STS in this VPC; SDK credential chains), logs (CloudWatch Logs API) and xray (active tracing)."
  type        = list(string)
  default     = ["ssm", "kms", "sns", "sts", "logs", "xray"]
  nullable    = false

  validation {
    condition     = alltrue([for s in var.interface_services : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_services are service names such as ssm or kms (com.amazonaws.<region>. is prepended)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
