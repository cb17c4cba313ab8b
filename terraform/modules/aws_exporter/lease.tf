# Per-table export leases (aurora_sync.exporter.lease; docs/decisions.md 12): two incremental exports of one
# table never run at once. An item lives for one export; the exporter compares `expires_at` in its
# conditional write, so an abandoned lease (a run killed at its timeout) is taken over right after
# its expiry, and TTL merely deletes it later.
resource "aws_dynamodb_table" "export_lease" {
  # checkov:skip=CKV_AWS_28:Leases live for one export (minutes); a point-in-time restore could only bring back expired leases, which the exporter's condition ignores.
  name         = "${var.name}-lease"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "lease_key"

  attribute {
    name = "lease_key"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at" # epoch seconds: the holder's Lambda deadline plus a minute
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.common.ops_kms_key_arn
  }

  tags = var.common.tags
}
