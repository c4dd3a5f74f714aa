# Spillway masters on EC2: the shared values every other file of the module uses.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Amazon Linux 2023 by default for both masters and agents: it has cloud-init, systemd and curl,
# which is all the masters' user-data and the agents' bootstrap.sh need.
data "aws_ssm_parameter" "master_ami" {
  count = var.master_ami_id == null ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.master_architecture}"
}

data "aws_ssm_parameter" "agent_ami" {
  count = var.agent_ami_id == null ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.agent_architecture}"
}

# The agents' root device name differs between images (/dev/xvda, /dev/sda1): read it from the AMI.
data "aws_ami" "agent" {
  # By id, so an AMI shared from another account works too; a deprecated one is still launchable.
  include_deprecated = true
  filter {
    name   = "image-id"
    values = [local.agent_ami_id]
  }
}

locals {
  name = "spw-${var.cluster_name}"

  # spillway-cluster is the tag the aws-ec2 provider filters its instances by; resources made here
  # say managed-by=terraform so the masters' policy (which needs managed-by=spillway) never lets
  # them terminate a master.
  tags = merge(var.tags, {
    "spillway-cluster" = var.cluster_name
    "managed-by"       = "terraform"
  })

  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  arn_prefix = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"

  master_ami_id = var.master_ami_id != null ? var.master_ami_id : data.aws_ssm_parameter.master_ami[0].insecure_value
  agent_ami_id  = var.agent_ami_id != null ? var.agent_ami_id : data.aws_ssm_parameter.agent_ami[0].insecure_value

  # var.tls is sensitive, and so is anything computed from it, even `var.tls == null`: the scheme
  # would make master_urls, master_url and agent_master_flag sensitive, an error for outputs not
  # marked so. Whether TLS is on is no secret.
  tls_enabled = nonsensitive(var.tls != null)
  scheme      = local.tls_enabled ? "https" : "http"

  # "" rather than null when neither is given, so the masters' precondition says what is missing.
  redis_url = var.create_redis ? "${var.redis_transit_encryption ? "rediss" : "redis"}://${aws_elasticache_replication_group.redis[0].primary_endpoint_address}:6379" : (var.redis_url == null ? "" : var.redis_url)

  load_balancer_url = var.load_balancer ? "${local.scheme}://${aws_lb.masters[0].dns_name}:${var.master_port}" : null
  # The one URL user-data gives rented agents. Without a load balancer or a URL of your own, each
  # master advertises itself (null here → the template uses the master's own IP).
  advertise_url = var.advertise_url != null ? var.advertise_url : local.load_balancer_url

  master_urls = [for m in aws_instance.master : "${local.scheme}://${m.private_ip}:${var.master_port}"]

  # The `aws` section of a Spillway pool (providers/pool-config.ts) for the first agent subnet; the
  # launch template carries the AMI, security group, instance profile, IMDSv2 and the
  # terminate-on-shutdown behaviour. A pool names one subnet, so there is one section per subnet.
  pool_aws = {
    region           = local.region
    launchTemplate   = { id = aws_launch_template.agent.id }
    subnetId         = var.agent_subnet_ids[0]
    securityGroupIds = [aws_security_group.agent.id]
    instanceProfile  = aws_iam_instance_profile.agent.name
  }
  pool_aws_by_subnet = { for s in var.agent_subnet_ids : s => merge(local.pool_aws, { subnetId = s }) }

  # A placeholder instance type of the agents' architecture for the policy snippet (fill in yours).
  example_instance_type = var.agent_architecture == "arm64" ? { name = "m7g.xlarge", cpus = 4, mem = 15360, price = 0.1632, spotPrice = 0.07 } : { name = "m6i.xlarge", cpus = 4, mem = 15360, price = 0.192, spotPrice = 0.08 }
}

# With several masters and no single URL in front of them, agents launched while one master leads
# know only that master and cannot follow a failover to another.
check "agents_can_follow_a_failover" {
  assert {
    condition     = var.master_count == 1 || var.load_balancer || var.advertise_url != null
    error_message = "master_count > 1 without load_balancer or advertise_url: each master advertises only itself to the agents it launches, so those agents cannot find the next leader if it goes. Enable load_balancer or give advertise_url."
  }
}
