# Private routes from the Lambdas' subnets to the AWS APIs they call, for a VPC without a NAT gateway
# (docs/deploy.md, "Network"). Gateway endpoints (S3, DynamoDB) add a route to the given route tables
# (free); interface endpoints put one network interface per subnet, reachable on 443 from the
# Lambdas' security groups only, and with private DNS the SDK's usual host names resolve to them,
# so the code needs no endpoint configuration. Vault and Snowflake are not AWS APIs: they need their
# own route (docs/deploy.md).

data "aws_region" "current" {}

locals {
  service_prefix = "com.amazonaws.${data.aws_region.current.name}"
}

resource "aws_vpc_endpoint" "gateway" {
  for_each = toset(var.gateway_services)

  vpc_id            = var.vpc_id
  service_name      = "${local.service_prefix}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  tags              = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_security_group" "interface_endpoints" {
  name        = "${var.name}-aws-endpoints"
  description = "Interface VPC endpoints of ${var.name}: HTTPS from the Lambdas only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-aws-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "https_from_lambdas" {
  for_each = toset(var.client_security_group_ids)

  security_group_id            = aws_security_group.interface_endpoints.id
  description                  = "HTTPS to the AWS APIs from the Lambdas (${each.key})"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.key
  tags                         = var.tags
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_services)

  vpc_id              = var.vpc_id
  service_name        = "${local.service_prefix}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.interface_endpoints.id]
  tags                = merge(var.tags, { Name = "${var.name}-${each.key}" })
}
