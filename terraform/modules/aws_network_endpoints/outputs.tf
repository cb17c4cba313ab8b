output "security_group_id" {
  description = "Security group of the interface endpoints (ingress 443 from the Lambdas' security groups)."
  value       = aws_security_group.interface_endpoints.id
}

output "interface_endpoint_ids" {
  description = "Interface endpoint id per service."
  value       = { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }
}

output "gateway_endpoint_ids" {
  description = "Gateway endpoint id per service (s3, dynamodb)."
  value       = { for service, endpoint in aws_vpc_endpoint.gateway : service => endpoint.id }
}
