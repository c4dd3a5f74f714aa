output "master_urls" {
  description = "Each master replica's own URL (internal IP). Give all of them to clients: spillway status --master URL1 --master URL2, spillway agent --master URL1,URL2."
  value       = local.master_urls
}

output "master_url" {
  description = "The one URL agents launched by the masters are given (--advertise-url): the load balancer, advertise_url, or null when each master advertises itself."
  value       = local.advertise_url
}

output "agent_master_flag" {
  description = "--master value for agents you start yourself (owned machines): the stable URL when there is one, else every replica."
  value       = local.advertise_url != null ? local.advertise_url : join(",", local.master_urls)
}

output "master_instance_names" {
  description = "Names of the master VMs."
  value       = google_compute_instance.master[*].name
}

output "master_service_account" {
  description = "Email of the masters' service account."
  value       = google_service_account.master.email
}

output "agent_service_account" {
  description = "Email of the agents' service account: a pool's gcp.serviceAccount (firewall rules and identity checks rely on it)."
  value       = google_service_account.agent.email
}

output "master_role" {
  description = "The custom role holding exactly the Compute permissions the gcp-compute provider needs."
  value       = google_project_iam_custom_role.master.name
}

output "redis_url" {
  description = "The Redis URL the masters use (Memorystore with its AUTH string when create_redis)."
  value       = local.redis_url
  sensitive   = true
}

output "load_balancer_ip" {
  description = "Internal address of the load balancer in front of the masters (null without one)."
  value       = var.load_balancer ? google_compute_address.masters[0].address : null
}

output "pool_gcp" {
  description = "The `gcp` section of a Spillway pool for the first agent zone (providers/pool-config.ts)."
  value       = local.pool_gcp
}

output "pool_gcp_by_zone" {
  description = "The `gcp` pool section for each agent zone: one pool per zone."
  value       = local.pool_gcp_by_zone
}

output "policy_pool_snippet" {
  description = "Ready-to-paste YAML: one gcp-compute spot pool per agent zone for a Spillway policy's `pools:` list. Fill in instanceTypes (name, cpus, mem, price, spotPrice) and max, then `spillway policy validate`."
  value       = yamlencode([
    for z in local.agent_zones : {
      name          = "gce-spot-${z}"
      provider      = "gcp-compute"
      ownership     = "rented"
      capacityType  = "spot"
      min           = 0
      max           = 10
      attributes    = { cloud = "gcp" }
      gcp           = local.pool_gcp_by_zone[z]
      instanceTypes = [{ name = "n2-standard-4", cpus = 4, mem = 15360, price = 0.1942, spotPrice = 0.047 }]
    }
  ])
}
