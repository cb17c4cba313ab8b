# The deny half of the CI plan role's permissions. The role (one per <env>-plan GitHub environment) is
# created outside this stack, because every plan, the first one included, runs as it: AWS-managed
# ReadOnlyAccess, which lets Terraform refresh every resource, plus this policy inline. ReadOnlyAccess
# also allows s3:Get* on every bucket; an explicit Deny wins over any Allow, so whatever else is ever
# attached, a pull request's plan cannot read exported rows (docs/deploy.md, "Plan identities").
# No resource Terraform manages is an object in the export bucket, so a refresh needs none of this.

data "aws_iam_policy_document" "plan_role" {
  statement {
    sid       = "NoExportObjectReads"
    effect    = "Deny"
    actions   = ["s3:GetObject*"] # GetObject, GetObjectVersion (the bucket is versioned), attributes, ACLs, tags
    resources = ["${var.export_bucket_arn}/*"]
  }

  statement {
    sid       = "NoExportKeyDecrypt"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:ReEncryptFrom"]
    resources = [var.export_bucket_kms_key_arn]
  }
}
