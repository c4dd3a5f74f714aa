# ---- project, cluster and network -----------------------------------------------------------------

variable "project" {
  type        = string
  description = "GCP project id the masters, service accounts, custom role and rented agents live in."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a project id: 6-30 lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "Region of the masters' subnetwork, the internal load balancer and Memorystore, e.g. us-central1."
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like us-central1."
  }
}

variable "cluster_name" {
  type        = string
  description = "Spillway cluster name: the masters' --cluster and the spillway-cluster label the gcp-compute provider puts on every agent. Also prefixes every GCP name this module creates."
  validation {
    # ≤ 19 so "spw-<cluster>-master" fits a service account id (30 characters).
    condition     = can(regex("^[a-z][a-z0-9-]{0,17}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name: 2-19 lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
  }
}

variable "network" {
  type        = string
  description = "Name of the VPC network (for Shared VPC, in network_project)."
  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.network))
    error_message = "network: a network name (not a self link)."
  }
}

variable "network_project" {
  type        = string
  description = "Project that owns the network (Shared VPC host project); default: project. With Shared VPC, grant the masters' service account roles/compute.networkUser on the agents' subnetwork there."
  default     = null
}

variable "subnetwork" {
  type        = string
  description = "Name of the subnetwork (in region) for the masters and the internal load balancer."
  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.subnetwork))
    error_message = "subnetwork: a subnetwork name (not a self link)."
  }
}

variable "agent_subnetwork" {
  type        = string
  description = "Name of the subnetwork (in region) rented agents are created in; default: subnetwork."
  default     = null
  validation {
    condition     = var.agent_subnetwork == null || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.agent_subnetwork))
    error_message = "agent_subnetwork: a subnetwork name (not a self link)."
  }
}

variable "master_zones" {
  type        = list(string)
  description = "Zones of the region the masters are spread over (round-robin): give two so a zone outage leaves a master."
  validation {
    condition     = length(var.master_zones) > 0 && alltrue([for z in var.master_zones : can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", z))])
    error_message = "master_zones: at least one zone, e.g. us-central1-a."
  }
}

variable "agent_zones" {
  type        = list(string)
  description = "Zones rented agents are created in; a Spillway pool names one zone, so each gets its own pool section in the outputs. Default: master_zones."
  default     = []
  validation {
    condition     = alltrue([for z in var.agent_zones : can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", z))])
    error_message = "agent_zones: zones, e.g. us-central1-b."
  }
}

variable "operator_cidrs" {
  type        = list(string)
  description = "CIDRs of operators and framework schedulers allowed to reach the master API (scheduler, operator and /v1 APIs, which have no authentication yet) and the agents' sandbox-files port. Empty by default."
  default     = []
  validation {
    # Written as network addresses (10.1.0.0/16, not 10.1.2.3/16), as the AWS module requires too.
    condition     = alltrue([for c in var.operator_cidrs : try(cidrsubnet(c, 0, 0) == c, false) && c != "0.0.0.0/0" && c != "::/0"])
    error_message = "operator_cidrs: CIDRs written as their network address (10.1.0.0/16, not 10.1.2.3/16; IPv6 in canonical lowercase form), and not 0.0.0.0/0 or ::/0 (the scheduler and operator APIs are unauthenticated)."
  }
}

variable "agent_cidrs" {
  type        = list(string)
  description = "CIDRs of agents outside this VPC (owned machines over Cloud VPN or Interconnect, another cloud) that join these masters: allowed to the master API and to the rented agents' task ports."
  default     = []
  validation {
    condition     = alltrue([for c in var.agent_cidrs : try(cidrsubnet(c, 0, 0) == c, false) && c != "0.0.0.0/0" && c != "::/0"])
    error_message = "agent_cidrs: CIDRs written as their network address (10.1.0.0/16, not 10.1.2.3/16; IPv6 in canonical lowercase form), and not 0.0.0.0/0 or ::/0."
  }
}

variable "task_client_cidrs" {
  type        = list(string)
  description = "CIDRs (besides the agents and agent_cidrs) allowed to reach tasks on the rented agents' task port range."
  default     = []
  validation {
    condition     = alltrue([for c in var.task_client_cidrs : try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "task_client_cidrs: CIDRs written as their network address (10.1.0.0/16, not 10.1.2.3/16; IPv6 in canonical lowercase form)."
  }
}

variable "master_port" {
  type        = number
  description = "Port of the master API (`spillway master --port`); Spillway's default is 5050."
  default     = 5050
  validation {
    condition     = var.master_port >= 1 && var.master_port <= 65535 && floor(var.master_port) == var.master_port
    error_message = "master_port must be a port number (1-65535)."
  }
}

variable "agent_port" {
  type        = number
  description = "Port of the agents' own HTTP endpoints (sandbox files, /health); `spillway agent --port` defaults to 5051."
  default     = 5051
  validation {
    condition     = var.agent_port >= 1 && var.agent_port <= 65535 && floor(var.agent_port) == var.agent_port
    error_message = "agent_port must be a port number (1-65535)."
  }
}

variable "task_ports" {
  type        = object({ from = number, to = number })
  description = "Port range agents offer to tasks (Spillway's default ports resource is 31000-32000)."
  default     = { from = 31000, to = 32000 }
  validation {
    condition     = var.task_ports.from >= 1 && var.task_ports.to <= 65535 && var.task_ports.from <= var.task_ports.to
    error_message = "task_ports: 1 <= from <= to <= 65535."
  }
}

# ---- masters -------------------------------------------------------------------------------------

variable "master_count" {
  type        = number
  description = "Number of `spillway master` replicas. Leadership is a lease in the one Redis, not a vote among masters, so 2 already survives the loss of a master (or its zone); 3 only adds tolerance of two at once. 1 is fine for trials."
  default     = 2
  validation {
    condition     = var.master_count >= 1 && var.master_count <= 7 && floor(var.master_count) == var.master_count
    error_message = "master_count must be a whole number from 1 to 7."
  }
}

variable "master_machine_type" {
  type        = string
  description = "Machine type of the masters. Not a shared-core type by default: a leader starved of CPU stalls past its 3 s lease and loses leadership."
  default     = "n2-standard-2"
  validation {
    condition     = can(regex("^[a-z0-9]+-[a-z0-9-]+$", var.master_machine_type))
    error_message = "master_machine_type must look like a machine type, e.g. n2-standard-2."
  }
}

variable "master_image" {
  type        = string
  description = "Boot image of the masters (any image with the guest environment, which runs the startup script, and systemd and curl)."
  default     = "debian-cloud/debian-12"
}

variable "master_disk_gb" {
  type        = number
  description = "Boot disk size of each master, in GB."
  default     = 20
  validation {
    condition     = var.master_disk_gb >= 10
    error_message = "master_disk_gb must be at least 10."
  }
}

variable "master_ips" {
  type        = list(string)
  description = "Fixed internal IPs for the masters, one per master (in the masters' subnetwork). Give them when you issue a TLS certificate before apply: standbys redirect clients to the leader's IP, so the certificate must name every master's IP. Empty: assigned by GCE."
  default     = []
  validation {
    condition     = alltrue([for ip in var.master_ips : can(cidrhost("${ip}/32", 0))])
    error_message = "master_ips: IPv4 addresses."
  }
}

variable "master_roles" {
  type        = list(string)
  description = "Extra project roles for the masters' service account, e.g. roles/logging.logWriter for the Ops Agent. The module's custom role covers only what the gcp-compute provider calls."
  default     = []
  validation {
    condition     = alltrue([for r in var.master_roles : startswith(r, "roles/") || startswith(r, "projects/")])
    error_message = "master_roles: role names (roles/… or projects/…/roles/…)."
  }
}

# ---- Spillway on the masters ---------------------------------------------------------------------

variable "spillway_package" {
  type        = string
  description = "What `npm install` installs on the masters: a registry spec (spillway@0.1.0), an https URL of a release tarball (`npm pack` output), or a git spec (github:your-org/spillway#v0.1.0). Pin a version: every master must run the same one."
  validation {
    condition     = length(trimspace(var.spillway_package)) > 0 && !can(regex("['\\s]", var.spillway_package))
    error_message = "spillway_package: a non-empty npm package spec without quotes or spaces."
  }
}

variable "spillway_package_sha256" {
  type        = string
  description = "sha256 (hex) of the tarball at spillway_package when that is an https URL: the masters download it, refuse it unless it matches, then install that file."
  default     = null
  validation {
    condition     = var.spillway_package_sha256 == null || can(regex("^[0-9a-f]{64}$", var.spillway_package_sha256))
    error_message = "spillway_package_sha256: 64 lowercase hex digits."
  }
}

variable "node_version" {
  type        = string
  description = "Node.js version installed on the masters from the official build (checked against its SHASUMS256.txt). Spillway needs >= 20.11 and < 25."
  default     = "20.20.2"
  validation {
    condition     = can(regex("^(20\\.(1[1-9]|[2-9][0-9])|2[1-4]\\.[0-9]+)\\.[0-9]+$", var.node_version))
    error_message = "node_version: a full version from 20.11.0 up to 24.x (Spillway's engines range)."
  }
}

variable "node_dist_url" {
  type        = string
  description = "Where the Node.js builds are downloaded from (a mirror of https://nodejs.org/dist with the same layout)."
  default     = "https://nodejs.org/dist"
  validation {
    condition     = can(regex("^https://[^'\\s]+[^/]$", var.node_dist_url))
    error_message = "node_dist_url: an https URL without a trailing slash."
  }
}

variable "agent_auth" {
  type        = string
  description = "The masters' --agent-auth: required (every agent joins with a token or credential; right for masters on their own VMs), loopback, or optional (admits any agent: trusted networks only)."
  default     = "required"
  validation {
    condition     = contains(["required", "loopback", "optional"], var.agent_auth)
    error_message = "agent_auth is required, loopback or optional."
  }
}

variable "verify_agent_identity" {
  type        = bool
  description = "Agents of gcp-compute pools must present their VM's identity token, checked against Google's JWKS (--gcp-identity-jwks): a copied join token is useless on another machine. Needs the agents to run as a service account (the pool snippet sets it)."
  default     = true
}

variable "tls" {
  type = object({
    cert_pem = string
    key_pem  = string
    ca_pem   = optional(string)
  })
  description = "Serve HTTPS: the masters' certificate (chain after it), its key and optionally the CA agents pin. The certificate must name the advertise URL's host and every master's IP (see master_ips). The key reaches the masters through instance metadata and sits in the Terraform state: protect both."
  default     = null
  sensitive   = true
  validation {
    condition     = var.tls == null || (can(regex("-----BEGIN CERTIFICATE-----", var.tls.cert_pem)) && can(regex("-----BEGIN [A-Z ]*PRIVATE KEY-----", var.tls.key_pem)))
    error_message = "tls: cert_pem must be a PEM certificate and key_pem a PEM private key."
  }
}

variable "leader_lease_seconds" {
  type        = number
  description = "The masters' --leader-lease: a dead or frozen leader is replaced within about this long. Raise it on overloaded VMs (a stalled leader loses its term)."
  default     = 3
  validation {
    condition     = var.leader_lease_seconds >= 0.1 && var.leader_lease_seconds <= 600
    error_message = "leader_lease_seconds must be from 0.1 to 600."
  }
}

variable "master_flags" {
  type        = map(string)
  description = "More `spillway master` flags, name without the dashes => value, e.g. { \"offer-timeout\" = \"30\", \"no-accounting\" = \"\" } (empty value = a switch). Flags the module sets itself (redis, host, port, cluster, advertise-*, tls-*, agent-auth, leader-lease, identity) are not accepted here."
  default     = {}
  validation {
    condition = alltrue([for k in keys(var.master_flags) : contains([
      "accounting-interval", "accounting-retention", "accounting-sample-retention", "accounting-billing-account",
      "accounting-billing-account-name", "no-accounting", "agent-ping-timeout", "max-agent-ping-timeouts", "max-agent-age",
      "max-unreachable-agents", "agent-reregister-timeout", "allocation-interval", "offer-timeout", "heartbeat-interval",
      "framework-recovery-timeout", "body-limit", "rate-limits", "max-task-launches-per-second",
      "fair-sharing-excluded-resource-names", "min-allocatable-resources", "optimistic-offers", "no-autoscaler",
      "autoscaler-interval", "autoscaler-job-lock",
    ], k)])
    error_message = "master_flags: unknown or module-managed flag; see `spillway master --help` and docs/OPERATIONS.md (give names without the leading --)."
  }
  validation {
    condition     = alltrue([for v in values(var.master_flags) : !can(regex("[\\n\\r]", v))])
    error_message = "master_flags: values must be one line."
  }
}

# ---- Redis ---------------------------------------------------------------------------------------

variable "redis_url" {
  type        = string
  description = "Redis the masters share, when create_redis is false: redis://, rediss:// or redis-sentinel://host:26379,host:26379/<name>. Any password in it reaches the masters through instance metadata. Give exactly one of redis_url and create_redis."
  default     = null
  sensitive   = true
  validation {
    condition     = var.redis_url == null || can(regex("^(rediss?|redis-sentinel)://[^'\\s]+$", var.redis_url))
    error_message = "redis_url must start with redis://, rediss:// or redis-sentinel:// and contain no quotes or spaces."
  }
}

variable "create_redis" {
  type        = bool
  description = "Create a Memorystore for Redis instance for the masters (AUTH on: Memorystore is reachable from the whole VPC, firewall rules do not apply to it)."
  default     = false
}

variable "redis_tier" {
  type        = string
  description = "Memorystore tier: STANDARD_HA (a replica in another zone with automatic failover; replication is asynchronous) or BASIC (one node)."
  default     = "STANDARD_HA"
  validation {
    condition     = contains(["STANDARD_HA", "BASIC"], var.redis_tier)
    error_message = "redis_tier is STANDARD_HA or BASIC."
  }
}

variable "redis_memory_gb" {
  type        = number
  description = "Memorystore capacity in GB. Size it for accounting: about 1.2 GB of samples a day per 1,000 agents at the default 60 s interval and 1 d retention."
  default     = 5
  validation {
    condition     = var.redis_memory_gb >= 1 && var.redis_memory_gb <= 300
    error_message = "redis_memory_gb must be from 1 to 300."
  }
}

variable "redis_version" {
  type        = string
  description = "Memorystore Redis version: REDIS_6_X, REDIS_7_0 or REDIS_7_2."
  default     = "REDIS_7_2"
  validation {
    condition     = contains(["REDIS_6_X", "REDIS_7_0", "REDIS_7_2"], var.redis_version)
    error_message = "redis_version: REDIS_6_X, REDIS_7_0 or REDIS_7_2."
  }
}

# ---- how agents find the masters -------------------------------------------------------------------

variable "load_balancer" {
  type        = bool
  description = "Put an internal passthrough Network Load Balancer in front of the masters and advertise it (--advertise-url) to the agents: user-data carries one master URL, and behind it any replica answers (the leader, or a standby with a 307 to the leader)."
  default     = true
}

variable "advertise_url" {
  type        = string
  description = "URL agents use to reach the masters (written into their user-data), e.g. a DNS name of your own for the load balancer. Default: the load balancer's URL, or each master's own URL without one."
  default     = null
  validation {
    condition     = var.advertise_url == null || can(regex("^https?://[^/'\\s]+$", var.advertise_url))
    error_message = "advertise_url: http(s)://host[:port], no path."
  }
}

# ---- agents --------------------------------------------------------------------------------------

variable "agent_source_image" {
  type        = string
  description = "Boot image for rented agents (a pool's gcp.sourceImage). It needs cloud-init, which reads the `user-data` the master writes: Ubuntu's images have it, Debian's GCE images do not."
  default     = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
  validation {
    condition     = startswith(var.agent_source_image, "projects/") || startswith(var.agent_source_image, "https://")
    error_message = "agent_source_image: projects/<project>/global/images/<image> or …/images/family/<family>."
  }
}

variable "agent_roles" {
  type        = list(string)
  description = "Project roles for the agents' service account. None by default: every task on an agent can use its token from the metadata server, so it grants nothing unless you choose to."
  default     = []
  validation {
    condition     = alltrue([for r in var.agent_roles : startswith(r, "roles/") || startswith(r, "projects/")])
    error_message = "agent_roles: role names (roles/… or projects/…/roles/…)."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that takes them (the module adds spillway-cluster and managed-by)."
  default     = {}
}
