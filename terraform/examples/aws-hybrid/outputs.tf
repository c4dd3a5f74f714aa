output "master_url" {
  description = "The masters' stable URL (internal load balancer): --master for the CLI and frameworks."
  value       = module.spillway.master_url
}

output "master_urls" {
  description = "Each master replica's own URL."
  value       = module.spillway.master_urls
}

output "policy_pool_snippet" {
  description = "aws-ec2 pools to paste under `pools:` in the policy (fill in instance types and prices)."
  value       = module.spillway.policy_pool_snippet
}

output "pool_aws" {
  description = "The `aws` section of a pool in the first subnet."
  value       = module.spillway.pool_aws
}

# The rack's machines are owned: their agents are installed by you, and with --agent-auth required
# each joins once with a token (`spillway token create --pool rack-a --ttl 1h`).
output "onprem_agent_command" {
  description = "How an owned machine in the data centre joins the cluster."
  value       = "spillway agent --master ${module.spillway.agent_master_flag} --work-dir /var/lib/spillway --hostname auto --attributes pool:rack-a --pool rack-a --join-token-file /etc/spillway/join-token"
}
