# What the master host script needs, as the aws and gcp modules pass it. An internal module: the
# callers have validated every value already (their own variables), so only the choices this module
# branches on are checked here.

variable "cloud" {
  type        = string
  description = "Which cloud's branch of the script to render: aws (the IP from IMDSv2, user-data) or gcp (the IP from the metadata server, startup script)."
  validation {
    condition     = contains(["aws", "gcp"], var.cloud)
    error_message = "cloud is aws or gcp."
  }
}

variable "cluster_name" {
  type        = string
  description = "Spillway cluster name: the masters' --cluster."
}

variable "master_port" {
  type        = number
  description = "Port of the master API (--port)."
}

variable "leader_lease_seconds" {
  type        = number
  description = "The masters' --leader-lease, in seconds."
}

variable "agent_auth" {
  type        = string
  description = "The masters' --agent-auth: required, loopback or optional."
}

variable "advertise_url" {
  type        = string
  description = "The one master URL agents are given (--advertise-url); null: each master advertises its own scheme://IP:port."
  default     = null
}

variable "scheme" {
  type        = string
  description = "http or https (with tls): the scheme of a master's own advertised URL. The caller derives it from whether TLS is on, without making it sensitive."
  validation {
    condition     = contains(["http", "https"], var.scheme)
    error_message = "scheme is http or https."
  }
}

variable "redis_url" {
  type        = string
  description = "The Redis URL the masters share (written to the root-only environment file, never a command line); may hold a password."
  sensitive   = true
}

variable "node_version" {
  type        = string
  description = "Node.js version installed on the masters from the official build."
}

variable "node_dist_url" {
  type        = string
  description = "Where the Node.js builds and their SHASUMS256.txt are downloaded from."
}

variable "spillway_package" {
  type        = string
  description = "What `npm install` installs on the masters: a registry spec, an https tarball URL or a git spec."
}

variable "spillway_package_sha256" {
  type        = string
  description = "sha256 (hex) the downloaded spillway_package tarball must match; null: no download and check."
  default     = null
}

variable "tls" {
  type = object({
    cert_pem = string
    key_pem  = string
    ca_pem   = optional(string)
  })
  description = "The masters' certificate (chain after it), key and optional CA (--tls-cert, --tls-key, --tls-ca); null: plain HTTP."
  default     = null
  sensitive   = true
}

variable "aws_identity_certs_pem" {
  type        = string
  description = "AWS' certificates for EC2 instance identity documents (--aws-identity-certs); null: off, and always on GCP."
  default     = null
}

variable "gcp_identity_jwks" {
  type        = string
  description = "URL of Google's JWKS for VM identity tokens (--gcp-identity-jwks); null: off, and always on AWS."
  default     = null
}

variable "master_flags" {
  type        = map(string)
  description = "More `spillway master` flags, name without the dashes => value (empty value = a switch), as the caller's master_flags allowed them."
  default     = {}
}
