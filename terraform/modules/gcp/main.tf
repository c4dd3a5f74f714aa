# Spillway masters on Compute Engine: the shared values every other file of the module uses.

data "google_compute_subnetwork" "master" {
  project = local.network_project
  region  = var.region
  name    = var.subnetwork
}

locals {
  name            = "spw-${var.cluster_name}"
  network_project = var.network_project != null ? var.network_project : var.project
  network         = "projects/${local.network_project}/global/networks/${var.network}"
  agent_subnet    = var.agent_subnetwork != null ? var.agent_subnetwork : var.subnetwork
  agent_zones     = length(var.agent_zones) > 0 ? var.agent_zones : var.master_zones

  # spillway-cluster is the label the gcp-compute provider filters by; managed-by=terraform tells
  # what this module made from what the masters launched (managed-by=spillway).
  labels = merge(var.labels, {
    "spillway-cluster" = var.cluster_name
    "managed-by"       = "terraform"
  })

  master_zone = [for i in range(var.master_count) : var.master_zones[i % length(var.master_zones)]]

  # var.tls is sensitive, and so is anything computed from it, even `var.tls == null`: the scheme
  # would make every URL output sensitive (an error for outputs not marked so), and the health
  # check's dynamic blocks refuse a sensitive for_each. Whether TLS is on is no secret.
  tls_enabled = nonsensitive(var.tls != null)
  scheme      = local.tls_enabled ? "https" : "http"

  # "" rather than null when neither is given, so the masters' precondition says what is missing.
  redis_url = var.create_redis ? "redis://:${google_redis_instance.redis[0].auth_string}@${google_redis_instance.redis[0].host}:${google_redis_instance.redis[0].port}" : (var.redis_url == null ? "" : var.redis_url)

  load_balancer_url = var.load_balancer ? "${local.scheme}://${google_compute_address.masters[0].address}:${var.master_port}" : null
  # The one URL user-data gives rented agents; null → each master advertises its own address.
  advertise_url = var.advertise_url != null ? var.advertise_url : local.load_balancer_url

  master_urls = [for m in google_compute_instance.master : "${local.scheme}://${m.network_interface[0].network_ip}:${var.master_port}"]

  # Google's published keys for VM identity tokens (docs/OPERATIONS.md, "Instance identity").
  google_jwks_url = "https://www.googleapis.com/oauth2/v3/certs"

  # The `gcp` section of a Spillway pool (providers/pool-config.ts) for the first agent zone; a pool
  # names one zone, so there is one section per zone. Partial resource paths, as the provider
  # passes them to instances.insert unchanged.
  pool_gcp = {
    project        = var.project
    zone           = local.agent_zones[0]
    sourceImage    = var.agent_source_image
    network        = local.network
    subnetwork     = "projects/${local.network_project}/regions/${var.region}/subnetworks/${local.agent_subnet}"
    serviceAccount = google_service_account.agent.email
  }
  pool_gcp_by_zone = { for z in local.agent_zones : z => merge(local.pool_gcp, { zone = z }) }
}

# With several masters and no single URL in front of them, agents launched while one master leads
# know only that master and cannot follow a failover to another.
check "agents_can_follow_a_failover" {
  assert {
    condition     = var.master_count == 1 || var.load_balancer || var.advertise_url != null
    error_message = "master_count > 1 without load_balancer or advertise_url: each master advertises only itself to the agents it launches, so those agents cannot find the next leader if it goes. Enable load_balancer or give advertise_url."
  }
}
