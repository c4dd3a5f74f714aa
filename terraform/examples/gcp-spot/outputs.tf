output "master_url" {
  description = "The masters' stable URL (internal load balancer): --master for the CLI and frameworks."
  value       = module.spillway.master_url
}

output "master_urls" {
  description = "Each master replica's own URL."
  value       = module.spillway.master_urls
}

output "policy_pool_snippet" {
  description = "gcp-compute spot pools, one per zone, to paste under `pools:` in the policy (fill in instance types and prices)."
  value       = module.spillway.policy_pool_snippet
}

output "pool_gcp_by_zone" {
  description = "The `gcp` pool section per zone, e.g. for the standard (on-demand) fallback pool."
  value       = module.spillway.pool_gcp_by_zone
}

output "agent_service_account" {
  description = "The service account rented agents run as (every pool must set it: firewall rules and identity checks rely on it)."
  value       = module.spillway.agent_service_account
}
