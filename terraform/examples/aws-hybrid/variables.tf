variable "region" {
  type        = string
  description = "AWS region of the masters and the rented agents."
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "cluster_name" {
  type        = string
  description = "Spillway cluster name (the masters' --cluster, the agents' spillway-cluster tag)."
  default     = "hybrid"
}

variable "vpc_id" {
  type        = string
  description = "VPC attached to the data centre (VPN or Direct Connect)."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets in two or more availability zones, with a NAT gateway (masters and agents download Node.js and Spillway) and a route to the data centre."
}

variable "onprem_cidrs" {
  type        = list(string)
  description = "The data centre's networks: its owned agents join these masters, and their tasks talk to tasks on rented agents."
}

variable "operator_cidrs" {
  type        = list(string)
  description = "Where operators and framework schedulers run (the ops network, CI, the data centre's framework hosts)."
  default     = []
}

variable "spillway_package" {
  type        = string
  description = "The Spillway release the masters install with npm (a pinned spec or an https tarball URL)."
}

variable "spillway_package_sha256" {
  type        = string
  description = "sha256 of the tarball when spillway_package is an https URL (recommended)."
  default     = null
}

variable "aws_identity_certs_pem" {
  type        = string
  description = "AWS' RSA certificate for instance identity documents of this region (PEM): agents must then prove which instance they are."
  default     = null
}

variable "create_spot_service_linked_role" {
  type        = bool
  description = "Create AWSServiceRoleForEC2Spot (once per account; leave false if the account has launched spot before)."
  default     = false
}

variable "environment" {
  type        = string
  description = "Value of the environment tag on every resource."
  default     = "production"
}
