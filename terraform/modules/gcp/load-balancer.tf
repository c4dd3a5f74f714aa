# One stable URL for all masters (--advertise-url): an internal passthrough Network Load Balancer,
# so TLS (when on) ends at the masters and standbys can answer with their 307 to the leader.

resource "google_compute_address" "masters" {
  count        = var.load_balancer ? 1 : 0
  project      = var.project
  name         = "${local.name}-masters"
  region       = var.region
  subnetwork   = data.google_compute_subnetwork.master.self_link
  address_type = "INTERNAL"
  description  = "Stable internal address of the Spillway masters (${var.cluster_name})"
}

# Unmanaged instance groups are zonal: one per zone that holds a master.
resource "google_compute_instance_group" "masters" {
  for_each  = var.load_balancer ? toset(distinct(local.master_zone)) : toset([])
  project   = var.project
  name      = "${local.name}-masters-${each.key}"
  zone      = each.key
  network   = data.google_compute_subnetwork.master.network
  instances = [
    for i, m in google_compute_instance.master : m.self_link if local.master_zone[i] == each.key
  ]
}

# /health is answered by every replica for itself (leader or standby).
resource "google_compute_region_health_check" "masters" {
  count   = var.load_balancer ? 1 : 0
  project = var.project
  name    = "${local.name}-masters"
  region  = var.region

  check_interval_sec  = 5
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 2

  # local.tls_enabled, not var.tls: a for_each derived from a sensitive value is an error.
  dynamic "http_health_check" {
    for_each = local.tls_enabled ? [] : [1]
    content {
      port         = var.master_port
      request_path = "/health"
    }
  }
  dynamic "https_health_check" {
    for_each = local.tls_enabled ? [1] : []
    content {
      port         = var.master_port
      request_path = "/health"
    }
  }
}

resource "google_compute_region_backend_service" "masters" {
  count                 = var.load_balancer ? 1 : 0
  project               = var.project
  name                  = "${local.name}-masters"
  region                = var.region
  load_balancing_scheme = "INTERNAL"
  protocol              = "TCP"
  health_checks         = [google_compute_region_health_check.masters[0].id]
  # Agents and frameworks hold long-lived streams and reconnect by themselves.
  connection_draining_timeout_sec = 10

  dynamic "backend" {
    for_each = google_compute_instance_group.masters
    content {
      group          = backend.value.self_link
      balancing_mode = "CONNECTION"
    }
  }
}

resource "google_compute_forwarding_rule" "masters" {
  count                 = var.load_balancer ? 1 : 0
  project               = var.project
  name                  = "${local.name}-masters"
  region                = var.region
  load_balancing_scheme = "INTERNAL"
  backend_service       = google_compute_region_backend_service.masters[0].id
  ip_address            = google_compute_address.masters[0].address
  ip_protocol           = "TCP"
  ports                 = [tostring(var.master_port)]
  network               = data.google_compute_subnetwork.master.network
  subnetwork            = data.google_compute_subnetwork.master.self_link
  # Agents in other regions of the VPC (pools name any zone) reach it too.
  allow_global_access = true
}
