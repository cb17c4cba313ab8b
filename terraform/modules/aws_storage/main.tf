data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

# --- Encryption key ------------------------------------------------------------------------------

resource "aws_kms_key" "bucket" {
  description         = "${var.name}: export bucket (SSE-KMS)"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.bucket_key.json
  tags                = var.tags
}

resource "aws_kms_alias" "bucket" {
  name          = "alias/${var.name}-exports"
  target_key_id = aws_kms_key.bucket.key_id
}

# --- Bucket --------------------------------------------------------------------------------------

resource "aws_s3_bucket" "exports" {
  # checkov:skip=CKV_AWS_18:Access logs would need a second bucket per environment; CloudTrail data events on this bucket are the audit trail (organisation-level).
  # checkov:skip=CKV_AWS_144:Exports are transient and re-creatable from Aurora; cross-region replication adds cost without protecting data.
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "exports" {
  bucket = aws_s3_bucket.exports.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "exports" {
  bucket                  = aws_s3_bucket.exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "exports" {
  bucket = aws_s3_bucket.exports.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.bucket.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_policy" "exports" {
  bucket = aws_s3_bucket.exports.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.exports]
}

resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  dynamic "rule" {
    for_each = var.table_prefixes
    content {
      id     = "expire-${rule.key}"
      status = "Enabled"
      filter {
        prefix = rule.value
      }
      expiration {
        days = var.export_retention_days
      }
      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_days
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }

  rule {
    id     = "expire-manifests"
    status = "Enabled"
    filter {
      prefix = var.manifest_prefix
    }
    expiration {
      days = var.manifest_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-incoming"
    status = "Enabled"
    filter {
      prefix = var.incoming_prefix
    }
    expiration {
      days = 1
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    # Publish pins hold the exporter's lower bound until a manifest covers them: the current version
    # must never expire; deleted and narrowed pins leave old versions, which do.
    id     = "expire-pending-history"
    status = "Enabled"
    filter {
      prefix = var.pending_prefix
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    # Full refreshes' plans, checkpoints and end markers (exporter/refresh.py), each object N days
    # after it was written. Resuming a refresh writes its plan again, which restarts the plan's
    # clock, so only a refresh nobody touched for N days loses its plan; planning the table then
    # abandons it and starts a new one (docs/architecture.md, "Full refresh in key ranges").
    id     = "expire-refresh"
    status = "Enabled"
    filter {
      prefix = var.refresh_prefix
    }
    expiration {
      days = var.refresh_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    # Catch-all for anything else (e.g. a table removed from tables.json): multipart leftovers and
    # delete markers never accumulate.
    id     = "abort-multipart-everywhere"
    status = "Enabled"
    # The whole bucket. Not `filter {}`: hashicorp/aws 5.90 to 5.97 (inside the pin) warn that an
    # empty filter will become an error (hashicorp/terraform-provider-aws#41710, #42714); an empty
    # prefix means the same to S3 and no version warns about it.
    filter {
      prefix = ""
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.exports]
}

# One notification per table: its pipe's queue, only for that table's prefix and only .csv files
# (manifests and _incoming/ never reach a pipe).
resource "aws_s3_bucket_notification" "pipes" {
  count  = length(var.pipe_notification_channels) > 0 ? 1 : 0
  bucket = aws_s3_bucket.exports.id

  dynamic "queue" {
    for_each = var.pipe_notification_channels
    content {
      id            = "snowpipe-${queue.key}"
      queue_arn     = queue.value
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = var.table_prefixes[queue.key]
      filter_suffix = ".csv"
    }
  }
}
