variable "project" {
  type        = string
  description = "GCP project id (Compute Engine, IAM and Memorystore APIs enabled)."
}

variable "region" {
  type        = string
  description = "Region of the masters, Memorystore and the rented agents."
  default     = "us-central1"
}

variable "zones" {
  type        = list(string)
  description = "Zones for the masters (one each) and for the spot pools (one pool per zone, so spot capacity in one zone running out is not the end)."
  default     = ["us-central1-a", "us-central1-b"]
}

variable "cluster_name" {
  type        = string
  description = "Spillway cluster name (the masters' --cluster, the agents' spillway-cluster label)."
  default     = "gcp-spot"
}

variable "network" {
  type        = string
  description = "VPC network name."
  default     = "default"
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork (in region) of the masters and agents; it needs Cloud NAT for Node.js and npm downloads."
  default     = "default"
}

variable "operator_cidrs" {
  type        = list(string)
  description = "Where operators and framework schedulers run."
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
