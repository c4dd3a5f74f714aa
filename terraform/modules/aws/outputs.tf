output "master_urls" {
  description = "Each master replica's own URL (private IP). Give all of them to clients: spillway status --master URL1 --master URL2, spillway agent --master URL1,URL2."
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

output "master_instance_ids" {
  description = "EC2 instance ids of the masters."
  value       = aws_instance.master[*].id
}

output "master_security_group_id" {
  description = "Security group of the masters."
  value       = aws_security_group.master.id
}

output "agent_security_group_id" {
  description = "Security group of the rented agents (in the launch template; a pool's aws.securityGroupIds)."
  value       = aws_security_group.agent.id
}

output "agent_launch_template_id" {
  description = "Launch template for rented agents: a pool's aws.launchTemplate.id."
  value       = aws_launch_template.agent.id
}

output "agent_launch_template_version" {
  description = "Current (default) version of the agents' launch template; pools launch \"$Default\" unless aws.launchTemplate.version pins one."
  value       = aws_launch_template.agent.default_version
}

output "agent_instance_profile" {
  description = "Instance profile of the rented agents (a pool's aws.instanceProfile); the only role the masters may pass."
  value       = aws_iam_instance_profile.agent.name
}

output "agent_role_arn" {
  description = "IAM role of the rented agents (attach what your tasks need, knowing every task can use it)."
  value       = aws_iam_role.agent.arn
}

output "master_role_arn" {
  description = "IAM role of the masters."
  value       = aws_iam_role.master.arn
}

output "redis_url" {
  description = "The Redis URL the masters use (ElastiCache's primary endpoint when create_redis)."
  value       = local.redis_url
  sensitive   = true
}

output "load_balancer_dns_name" {
  description = "DNS name of the internal load balancer in front of the masters (null without one)."
  value       = var.load_balancer ? aws_lb.masters[0].dns_name : null
}

output "pool_aws" {
  description = "The `aws` section of a Spillway pool for the first agent subnet (providers/pool-config.ts)."
  value       = local.pool_aws
}

output "pool_aws_by_subnet" {
  description = "The `aws` pool section for each agent subnet: one pool per subnet (availability zone)."
  value       = local.pool_aws_by_subnet
}

output "policy_pool_snippet" {
  description = "Ready-to-paste YAML: one aws-ec2 spot pool per agent subnet for a Spillway policy's `pools:` list. Fill in instanceTypes (name, cpus, mem, price, spotPrice) and max, then `spillway policy validate`."
  value       = yamlencode([
    for i, s in var.agent_subnet_ids : {
      name          = "aws-spot-${i}"
      provider      = "aws-ec2"
      ownership     = "rented"
      capacityType  = "spot"
      min           = 0
      max           = 10
      attributes    = { cloud = "aws" }
      aws           = local.pool_aws_by_subnet[s]
      instanceTypes = [local.example_instance_type]
    }
  ])
}
