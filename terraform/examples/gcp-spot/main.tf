# Cloud only, on Compute Engine: spot VMs in two zones, standard VMs as the fallback
# (policies/examples/gcp-spot.yaml). Two masters on a Memorystore Redis behind an internal load
# balancer; agents must present their VM identity token to join.
#
#   terraform init && terraform apply
#   terraform output -raw policy_pool_snippet     # paste under pools: in your policy
#   spillway policy apply policy.yaml --master "$(terraform output -raw master_url)"

provider "google" {
  project = var.project
  region  = var.region
}

module "spillway" {
  source = "../../modules/gcp"

  project      = var.project
  region       = var.region
  cluster_name = var.cluster_name
  network      = var.network
  subnetwork   = var.subnetwork
  master_zones = var.zones
  agent_zones  = var.zones

  operator_cidrs = var.operator_cidrs

  master_count            = 2
  spillway_package        = var.spillway_package
  spillway_package_sha256 = var.spillway_package_sha256
  verify_agent_identity   = true

  create_redis = true
  redis_tier   = "STANDARD_HA"

  # Master logs and metrics in Cloud Logging / Monitoring (Ops Agent).
  master_roles = ["roles/logging.logWriter", "roles/monitoring.metricWriter"]

  # A scale-up burst of spot VMs should not wait on the default 10 s between evaluations.
  master_flags = { "autoscaler-interval" = "5" }

  labels = { environment = "production" }
}
