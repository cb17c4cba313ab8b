data "aws_iam_policy_document" "key" {
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

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesTheRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "base" {
  source_policy_documents = [var.policy_statements_json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
  statement {
    sid       = "DecryptOwnFallbackCredentials"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.function.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:LambdaFunctionName"
      values   = [var.name]
    }
  }
}
