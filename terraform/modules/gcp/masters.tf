# `master_count` replicas of `spillway master` on one Redis: one leads, the others answer 307 to it
# and take over within --leader-lease when it goes (docs/OPERATIONS.md, "Several masters").

# The masters' setup script, rendered by ../master-host from the template the aws module renders
# too, for cloud = "gcp".
module "master_host" {
  source = "../master-host"

  cloud                   = "gcp"
  cluster_name            = var.cluster_name
  master_port             = var.master_port
  leader_lease_seconds    = var.leader_lease_seconds
  agent_auth              = var.agent_auth
  advertise_url           = local.advertise_url
  scheme                  = local.scheme
  redis_url               = local.redis_url
  node_version            = var.node_version
  node_dist_url           = var.node_dist_url
  spillway_package        = var.spillway_package
  spillway_package_sha256 = var.spillway_package_sha256
  tls                     = var.tls
  gcp_identity_jwks       = var.verify_agent_identity ? local.google_jwks_url : null
  master_flags            = var.master_flags
}

resource "google_compute_instance" "master" {
  count = var.master_count

  project      = var.project
  name         = "${local.name}-master-${count.index}"
  machine_type = var.master_machine_type
  # Round-robin over the zones: with two zones, a zone outage leaves a master.
  zone = local.master_zone[count.index]

  boot_disk {
    initialize_params {
      image = var.master_image
      size  = var.master_disk_gb
      type  = "pd-balanced"
    }
  }

  # Internal address only: reach the internet (nodejs.org, npm) through Cloud NAT.
  network_interface {
    subnetwork = data.google_compute_subnetwork.master.self_link
    network_ip = length(var.master_ips) > 0 ? var.master_ips[count.index] : null
  }

  # The provider finds its credentials through the metadata server (Application Default
  # Credentials); what they allow is the custom role, not the scope.
  service_account {
    email  = google_service_account.master.email
    scopes = ["cloud-platform"]
  }

  # The startup script runs at every boot and skips what is already installed; a changed script
  # (new flags, version) takes effect at the next reboot. Reboot masters one at a time so a leader
  # is always up. Metadata rather than metadata_startup_script, which would recreate the VM.
  metadata = {
    startup-script         = module.master_host.script
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  labels                    = merge(local.labels, { "spillway-role" = "master" })
  allow_stopping_for_update = true

  lifecycle {
    precondition {
      condition     = var.create_redis != (var.redis_url != null)
      error_message = "Give exactly one of redis_url (your own Redis) and create_redis = true (Memorystore)."
    }
    precondition {
      condition     = length(var.master_ips) == 0 || length(var.master_ips) == var.master_count
      error_message = "master_ips: give one address per master (master_count) or none."
    }
    precondition {
      condition     = var.spillway_package_sha256 == null || startswith(var.spillway_package, "https://")
      error_message = "spillway_package_sha256 checks a downloaded tarball: spillway_package must then be its https:// URL."
    }
    precondition {
      condition     = alltrue([for z in concat(var.master_zones, local.agent_zones) : startswith(z, "${var.region}-")])
      error_message = "master_zones and agent_zones must be zones of region ${var.region} (the subnetworks are regional)."
    }
  }
}
