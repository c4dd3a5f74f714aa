# Firewall rules, by service account: the masters' and agents' accounts identify them wherever the
# VMs are (the pool snippet launches agents as the agents' account). Nothing is open to 0.0.0.0/0;
# CIDR rules exist only for the CIDRs given in variables. Rules live in the network's project.

locals {
  master_api_cidrs = distinct(concat(var.operator_cidrs, var.agent_cidrs))
  task_cidrs       = distinct(concat(var.agent_cidrs, var.task_client_cidrs))
  # Where Google's health checkers (and so the internal load balancer's probes) come from.
  health_check_ranges = ["35.191.0.0/16", "130.211.0.0/22"]
}

# Agents reach the masters; replicas reach each other (provisioning jobs fetch user-data from the
# leader, and clients that reach a standby are redirected to the leader's own address).
resource "google_compute_firewall" "master_api_internal" {
  project                 = local.network_project
  name                    = "${local.name}-master-api"
  network                 = local.network
  description             = "Spillway master API from the agents and the other masters (${var.cluster_name})"
  direction               = "INGRESS"
  source_service_accounts = [google_service_account.agent.email, google_service_account.master.email]
  target_service_accounts = [google_service_account.master.email]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.master_port)]
  }
}

resource "google_compute_firewall" "master_api_cidrs" {
  count                   = length(local.master_api_cidrs) > 0 ? 1 : 0
  project                 = local.network_project
  name                    = "${local.name}-master-api-cidrs"
  network                 = local.network
  description             = "Spillway master API from operators, frameworks and agents outside the VPC (${var.cluster_name})"
  direction               = "INGRESS"
  source_ranges           = local.master_api_cidrs
  target_service_accounts = [google_service_account.master.email]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.master_port)]
  }
}

resource "google_compute_firewall" "master_health_checks" {
  count                   = var.load_balancer ? 1 : 0
  project                 = local.network_project
  name                    = "${local.name}-master-health"
  network                 = local.network
  description             = "Load balancer health checks of the Spillway masters (${var.cluster_name})"
  direction               = "INGRESS"
  source_ranges           = local.health_check_ranges
  target_service_accounts = [google_service_account.master.email]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.master_port)]
  }
}

# Sandbox files (Mesos' files API) for the masters, other agents (frameworks running as tasks) and operators.
resource "google_compute_firewall" "agent_port_internal" {
  project                 = local.network_project
  name                    = "${local.name}-agent-port"
  network                 = local.network
  description             = "Spillway agent endpoints from the masters and other agents (${var.cluster_name})"
  direction               = "INGRESS"
  source_service_accounts = [google_service_account.master.email, google_service_account.agent.email]
  target_service_accounts = [google_service_account.agent.email]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.agent_port)]
  }
}

resource "google_compute_firewall" "agent_port_operators" {
  count                   = length(var.operator_cidrs) > 0 ? 1 : 0
  project                 = local.network_project
  name                    = "${local.name}-agent-port-ops"
  network                 = local.network
  description             = "Spillway agent endpoints (sandbox files) from operators (${var.cluster_name})"
  direction               = "INGRESS"
  source_ranges           = var.operator_cidrs
  target_service_accounts = [google_service_account.agent.email]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.agent_port)]
  }
}

resource "google_compute_firewall" "task_ports_internal" {
  project                 = local.network_project
  name                    = "${local.name}-task-ports"
  network                 = local.network
  description             = "Task ports between the rented agents (${var.cluster_name})"
  direction               = "INGRESS"
  source_service_accounts = [google_service_account.agent.email]
  target_service_accounts = [google_service_account.agent.email]
  allow {
    protocol = "tcp"
    ports    = ["${var.task_ports.from}-${var.task_ports.to}"]
  }
}

resource "google_compute_firewall" "task_ports_cidrs" {
  count                   = length(local.task_cidrs) > 0 ? 1 : 0
  project                 = local.network_project
  name                    = "${local.name}-task-ports-cidrs"
  network                 = local.network
  description             = "Task ports from agents outside the VPC and task clients (${var.cluster_name})"
  direction               = "INGRESS"
  source_ranges           = local.task_cidrs
  target_service_accounts = [google_service_account.agent.email]
  allow {
    protocol = "tcp"
    ports    = ["${var.task_ports.from}-${var.task_ports.to}"]
  }
}
