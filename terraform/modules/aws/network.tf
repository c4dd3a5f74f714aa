# Security groups. Nothing is open to 0.0.0.0/0 inbound: agents and masters reach each other by
# security group, everything else only from the CIDRs given in variables. Rules are separate
# resources (one per source), so adding a CIDR never rewrites the others.

locals {
  # cidr => who it is for (descriptions); IPv4 and IPv6 go to different rule attributes.
  master_api_cidrs = merge(
    { for c in var.operator_cidrs : c => "operators and frameworks" },
    { for c in var.agent_cidrs : c => "agents outside the VPC" },
  )
  task_cidrs = merge(
    { for c in var.task_client_cidrs : c => "task clients" },
    { for c in var.agent_cidrs : c => "agents outside the VPC" },
  )
}

# ---- masters ---------------------------------------------------------------------------------------

resource "aws_security_group" "master" {
  name        = "${local.name}-master"
  description = "Spillway masters of cluster ${var.cluster_name}"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-master" })
}

resource "aws_vpc_security_group_ingress_rule" "master_api_from_agents" {
  security_group_id            = aws_security_group.master.id
  description                  = "Spillway master API from rented agents"
  referenced_security_group_id = aws_security_group.agent.id
  ip_protocol                  = "tcp"
  from_port                    = var.master_port
  to_port                      = var.master_port
  tags                         = local.tags
}

# Replicas call the leader too (provisioning jobs fetch user-data from it), and clients that reach
# a standby are redirected to the leader's own address.
resource "aws_vpc_security_group_ingress_rule" "master_api_from_masters" {
  security_group_id            = aws_security_group.master.id
  description                  = "Spillway master API from the other masters"
  referenced_security_group_id = aws_security_group.master.id
  ip_protocol                  = "tcp"
  from_port                    = var.master_port
  to_port                      = var.master_port
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "master_api_from_load_balancer" {
  count                        = var.load_balancer ? 1 : 0
  security_group_id            = aws_security_group.master.id
  description                  = "Spillway master API (and health checks) from the internal load balancer"
  referenced_security_group_id = aws_security_group.load_balancer[0].id
  ip_protocol                  = "tcp"
  from_port                    = var.master_port
  to_port                      = var.master_port
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "master_api_from_cidrs" {
  for_each          = local.master_api_cidrs
  security_group_id = aws_security_group.master.id
  description       = "Spillway master API from ${each.value}"
  cidr_ipv4         = can(cidrnetmask(each.key)) ? each.key : null
  cidr_ipv6         = can(cidrnetmask(each.key)) ? null : each.key
  ip_protocol       = "tcp"
  from_port         = var.master_port
  to_port           = var.master_port
  tags              = local.tags
}

# Outbound: Node.js and the Spillway package at boot, the EC2 API, Redis, agents' files API.
resource "aws_vpc_security_group_egress_rule" "master_all" {
  security_group_id = aws_security_group.master.id
  description       = "Masters: Node.js/npm downloads, EC2 API, Redis"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  tags              = local.tags
}

# ---- agents ----------------------------------------------------------------------------------------

resource "aws_security_group" "agent" {
  name        = "${local.name}-agent"
  description = "Spillway rented agents of cluster ${var.cluster_name}"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-agent" })
}

resource "aws_vpc_security_group_ingress_rule" "agent_port_from_masters" {
  security_group_id            = aws_security_group.agent.id
  description                  = "Spillway agent endpoints (sandbox files) from the masters"
  referenced_security_group_id = aws_security_group.master.id
  ip_protocol                  = "tcp"
  from_port                    = var.agent_port
  to_port                      = var.agent_port
  tags                         = local.tags
}

# Frameworks that run as tasks read other tasks' sandboxes too.
resource "aws_vpc_security_group_ingress_rule" "agent_port_from_agents" {
  security_group_id            = aws_security_group.agent.id
  description                  = "Spillway agent endpoints from other agents"
  referenced_security_group_id = aws_security_group.agent.id
  ip_protocol                  = "tcp"
  from_port                    = var.agent_port
  to_port                      = var.agent_port
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "agent_port_from_operators" {
  for_each          = toset(var.operator_cidrs)
  security_group_id = aws_security_group.agent.id
  description       = "Spillway agent endpoints (sandbox files) from operators"
  cidr_ipv4         = can(cidrnetmask(each.key)) ? each.key : null
  cidr_ipv6         = can(cidrnetmask(each.key)) ? null : each.key
  ip_protocol       = "tcp"
  from_port         = var.agent_port
  to_port           = var.agent_port
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "task_ports_from_agents" {
  security_group_id            = aws_security_group.agent.id
  description                  = "Task ports from tasks on other agents"
  referenced_security_group_id = aws_security_group.agent.id
  ip_protocol                  = "tcp"
  from_port                    = var.task_ports.from
  to_port                      = var.task_ports.to
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "task_ports_from_cidrs" {
  for_each          = local.task_cidrs
  security_group_id = aws_security_group.agent.id
  description       = "Task ports from ${each.value}"
  cidr_ipv4         = can(cidrnetmask(each.key)) ? each.key : null
  cidr_ipv6         = can(cidrnetmask(each.key)) ? null : each.key
  ip_protocol       = "tcp"
  from_port         = var.task_ports.from
  to_port           = var.task_ports.to
  tags              = local.tags
}

# Outbound: the master, Node.js from nodejs.org at first boot, and whatever tasks need.
resource "aws_vpc_security_group_egress_rule" "agent_all" {
  security_group_id = aws_security_group.agent.id
  description       = "Agents: the master, Node.js download, tasks"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  tags              = local.tags
}

# ---- internal load balancer --------------------------------------------------------------------------

resource "aws_security_group" "load_balancer" {
  count       = var.load_balancer ? 1 : 0
  name        = "${local.name}-lb"
  description = "Internal load balancer in front of the Spillway masters of cluster ${var.cluster_name}"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-lb" })
}

resource "aws_vpc_security_group_ingress_rule" "load_balancer_from_agents" {
  count                        = var.load_balancer ? 1 : 0
  security_group_id            = aws_security_group.load_balancer[0].id
  description                  = "Spillway master API from rented agents"
  referenced_security_group_id = aws_security_group.agent.id
  ip_protocol                  = "tcp"
  from_port                    = var.master_port
  to_port                      = var.master_port
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "load_balancer_from_masters" {
  count                        = var.load_balancer ? 1 : 0
  security_group_id            = aws_security_group.load_balancer[0].id
  description                  = "Spillway master API from the masters"
  referenced_security_group_id = aws_security_group.master.id
  ip_protocol                  = "tcp"
  from_port                    = var.master_port
  to_port                      = var.master_port
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "load_balancer_from_cidrs" {
  for_each          = var.load_balancer ? local.master_api_cidrs : {}
  security_group_id = aws_security_group.load_balancer[0].id
  description       = "Spillway master API from ${each.value}"
  cidr_ipv4         = can(cidrnetmask(each.key)) ? each.key : null
  cidr_ipv6         = can(cidrnetmask(each.key)) ? null : each.key
  ip_protocol       = "tcp"
  from_port         = var.master_port
  to_port           = var.master_port
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "load_balancer_to_masters" {
  count                        = var.load_balancer ? 1 : 0
  security_group_id            = aws_security_group.load_balancer[0].id
  description                  = "To the masters (traffic and health checks)"
  referenced_security_group_id = aws_security_group.master.id
  ip_protocol                  = "tcp"
  from_port                    = var.master_port
  to_port                      = var.master_port
  tags                         = local.tags
}

# ---- Redis -------------------------------------------------------------------------------------------

# Only the masters talk to Redis; agents never do.
resource "aws_security_group" "redis" {
  count       = var.create_redis ? 1 : 0
  name        = "${local.name}-redis"
  description = "ElastiCache for the Spillway masters of cluster ${var.cluster_name}"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-redis" })
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_masters" {
  count                        = var.create_redis ? 1 : 0
  security_group_id            = aws_security_group.redis[0].id
  description                  = "Redis from the Spillway masters"
  referenced_security_group_id = aws_security_group.master.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  tags                         = local.tags
}
