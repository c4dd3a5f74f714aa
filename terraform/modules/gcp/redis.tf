# Optional Memorystore for Redis. Memorystore sits in a peered network that firewall rules do not
# cover: every VM in the VPC (agents and their tasks included) could connect, so AUTH is on and
# the password reaches only the masters. RDB snapshots every hour; STANDARD_HA adds a replica with
# automatic failover (asynchronous: see docs/OPERATIONS.md, "Redis durability").

resource "google_redis_instance" "redis" {
  count              = var.create_redis ? 1 : 0
  project            = var.project
  name               = local.name
  display_name       = "Spillway masters' Redis (${var.cluster_name})"
  region             = var.region
  tier               = var.redis_tier
  memory_size_gb     = var.redis_memory_gb
  redis_version      = var.redis_version
  # The network's full name (projects/P/global/networks/N), as the API documents the field.
  authorized_network = local.network
  # Direct peering works only with a network of the instance's own project; a Shared VPC network
  # of a host project needs private services access, which the host project must have set up
  # (an allocated range and the servicenetworking connection) before apply.
  connect_mode = local.network_project == var.project ? "DIRECT_PEERING" : "PRIVATE_SERVICE_ACCESS"
  auth_enabled = true

  # The default (volatile-lru) would evict keys with a TTL under memory pressure — the leader lease
  # among them. Refused writes are what the masters handle (503, the term ends).
  redis_configs = {
    "maxmemory-policy" = "noeviction"
  }

  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = "ONE_HOUR"
  }

  labels = local.labels
}
