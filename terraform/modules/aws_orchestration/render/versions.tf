# Provider-free on purpose: the state machine definition, its worst-case duration and the event
# pattern of its status changes are computed here, so tests evaluate them offline (`terraform
# apply` on local state) and execute the same definition on moto.
terraform {
  required_version = ">= 1.5.0"
}
