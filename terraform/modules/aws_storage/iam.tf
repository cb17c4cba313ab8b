data "aws_iam_policy_document" "bucket_key" {
  # checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key, and the account root delegates to IAM (AWS's default key policy).
  # checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key.
  # checkov:skip=CKV_AWS_109:Key policy: the account root administers the key (AWS's default key policy); IAM policies grant use.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.exports.arn,
      "${aws_s3_bucket.exports.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
