# ---- cluster and network -------------------------------------------------------------------------

variable "cluster_name" {
  type        = string
  description = "Spillway cluster name: the masters' --cluster (namespaces the Redis keys) and the spillway-cluster tag the aws-ec2 provider puts on every agent it launches. Also prefixes every AWS name this module creates."
  validation {
    # Lowercase so it fits every AWS name it prefixes (ElastiCache ids are lowercase, and may not
    # hold two dashes in a row); ≤ 24 so "spw-<cluster>-api" stays within the 32 characters of a
    # target group name.
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.cluster_name)) && !can(regex("--", var.cluster_name))
    error_message = "cluster_name: 2-24 lowercase letters, digits and dashes, starting with a letter, not ending with a dash and without two dashes in a row."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC the masters, the agents' security group and the optional load balancer and Redis live in."
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "master_subnet_ids" {
  type        = list(string)
  description = "Private subnets for the masters (spread round-robin: give subnets in different availability zones so one zone's outage leaves a master), the internal load balancer and ElastiCache."
  validation {
    condition     = length(var.master_subnet_ids) > 0 && alltrue([for s in var.master_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "master_subnet_ids: at least one subnet id (subnet-…)."
  }
}

variable "agent_subnet_ids" {
  type        = list(string)
  description = "Subnets rented agents are launched in. A Spillway pool names one subnetId, so each subnet gets its own pool snippet in the outputs; the masters may launch only into these subnets."
  validation {
    condition     = length(var.agent_subnet_ids) > 0 && alltrue([for s in var.agent_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "agent_subnet_ids: at least one subnet id (subnet-…)."
  }
}

variable "operator_cidrs" {
  type        = list(string)
  description = "CIDRs of operators and framework schedulers allowed to reach the master API (scheduler, operator and /v1 APIs, which have no authentication yet) and the agents' sandbox-files port. Empty by default: nothing outside the VPC's agents and masters gets in."
  default     = []
  validation {
    # The security group rules take network addresses only: 10.1.0.0/16, not 10.1.2.3/16.
    condition     = alltrue([for c in var.operator_cidrs : try(cidrsubnet(c, 0, 0) == c, false) && c != "0.0.0.0/0" && c != "::/0"])
    error_message = "operator_cidrs: CIDRs written as their network address (10.1.0.0/16, not 10.1.2.3/16; IPv6 in canonical lowercase form), and not 0.0.0.0/0 or ::/0 (the scheduler and operator APIs are unauthenticated)."
  }
}

variable "agent_cidrs" {
  type        = list(string)
  description = "CIDRs of agents outside this VPC (owned on-prem machines over VPN or Direct Connect, another cloud) that join these masters: allowed to the master API, and to the task port range of the rented agents so tasks can talk across sites."
  default     = []
  validation {
    condition     = alltrue([for c in var.agent_cidrs : try(cidrsubnet(c, 0, 0) == c, false) && c != "0.0.0.0/0" && c != "::/0"])
    error_message = "agent_cidrs: CIDRs written as their network address (10.1.0.0/16, not 10.1.2.3/16; IPv6 in canonical lowercase form), and not 0.0.0.0/0 or ::/0."
  }
}

variable "task_client_cidrs" {
  type        = list(string)
  description = "CIDRs (besides the agents themselves and agent_cidrs) allowed to reach tasks on the rented agents' task port range, e.g. the clients of services Spillway runs."
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

variable "master_instance_type" {
  type        = string
  description = "EC2 instance type of the masters. Not burstable by default: a leader whose CPU credits run out stalls past its 3 s lease and loses leadership."
  default     = "m6i.large"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.master_instance_type))
    error_message = "master_instance_type must look like an EC2 instance type, e.g. m6i.large."
  }
}

variable "master_architecture" {
  type        = string
  description = "CPU architecture of the masters' default AMI (latest Amazon Linux 2023); must match master_instance_type."
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.master_architecture)
    error_message = "master_architecture is x86_64 or arm64."
  }
}

variable "master_ami_id" {
  type        = string
  description = "AMI of the masters (any Linux with cloud-init, systemd and curl). Default: the latest Amazon Linux 2023 for master_architecture. Later AMI releases do not replace running masters."
  default     = null
  validation {
    condition     = var.master_ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.master_ami_id))
    error_message = "master_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "master_root_volume_gb" {
  type        = number
  description = "Root volume size of each master, in GiB (Node.js, Spillway and its node_modules, journald logs)."
  default     = 20
  validation {
    condition     = var.master_root_volume_gb >= 8
    error_message = "master_root_volume_gb must be at least 8."
  }
}

variable "master_private_ips" {
  type        = list(string)
  description = "Fixed private IPs for the masters, one per master in master_subnet_ids order (round-robin). Give them when you issue a TLS certificate before apply: standbys redirect clients to the leader's IP, so the certificate must name every master's IP. Empty: addresses are assigned by EC2."
  default     = []
  validation {
    condition     = alltrue([for ip in var.master_private_ips : can(cidrhost("${ip}/32", 0))])
    error_message = "master_private_ips: IPv4 addresses."
  }
}

variable "key_name" {
  type        = string
  description = "EC2 key pair for SSH to the masters and agents (optional; Session Manager through master_managed_policy_arns needs none)."
  default     = null
}

variable "master_managed_policy_arns" {
  type        = list(string)
  description = "Extra managed policies for the masters' role, e.g. arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore for Session Manager. The module's own policy covers only what the aws-ec2 provider calls."
  default     = []
  validation {
    condition     = alltrue([for a in var.master_managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::", a))])
    error_message = "master_managed_policy_arns: IAM policy ARNs."
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
  description = "sha256 (hex) of the tarball at spillway_package when that is an https URL: the masters download it, refuse it unless it matches, then install that file (as the agents' bootstrap checks their bundle)."
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

variable "aws_identity_certs_pem" {
  type        = string
  description = "AWS' published RSA certificates (PEM) for EC2 instance identity documents of the agents' regions. When given, agents of aws-ec2 pools must prove which instance they are, so a copied join token is useless elsewhere (--aws-identity-certs)."
  default     = null
  validation {
    condition     = var.aws_identity_certs_pem == null || can(regex("-----BEGIN CERTIFICATE-----", var.aws_identity_certs_pem))
    error_message = "aws_identity_certs_pem must hold PEM certificates."
  }
}

variable "tls" {
  type = object({
    cert_pem = string
    key_pem  = string
    ca_pem   = optional(string)
  })
  description = "Serve HTTPS: the masters' certificate (chain after it), its key and optionally the CA agents pin. The certificate must name the advertise URL's host and every master's IP (see master_private_ips). The key reaches the masters through user-data and sits in the Terraform state: protect both."
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
  description = "Redis the masters share, when create_redis is false: redis://, rediss:// or redis-sentinel://host:26379,host:26379/<name>. Any password in it reaches the masters through user-data. Give exactly one of redis_url and create_redis."
  default     = null
  sensitive   = true
  validation {
    condition     = var.redis_url == null || can(regex("^(rediss?|redis-sentinel)://[^'\\s]+$", var.redis_url))
    error_message = "redis_url must start with redis://, rediss:// or redis-sentinel:// and contain no quotes or spaces."
  }
}

variable "create_redis" {
  type        = bool
  description = "Create an ElastiCache for Redis replication group for the masters (reachable only from the masters' security group)."
  default     = false
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type. Size memory for accounting: about 1.2 GB of samples a day per 1,000 agents at the default 60 s interval and 1 d retention."
  default     = "cache.t4g.medium"
  validation {
    condition     = startswith(var.redis_node_type, "cache.")
    error_message = "redis_node_type must be an ElastiCache node type (cache.…)."
  }
}

variable "redis_engine_version" {
  type        = string
  description = "Redis engine version of the ElastiCache replication group, <major>.<minor> (6.0, 6.2, 7.0, 7.1) or 6.x; the parameter group family follows its major version (redis6.x, redis7)."
  default     = "7.1"
  validation {
    # The AWS provider takes "6.x" but not "7.x" (for 7 it wants <major>.<minor>).
    condition     = can(regex("^(6\\.(x|[0-9]+)|7\\.[0-9]+)$", var.redis_engine_version))
    error_message = "redis_engine_version: 6.x, 6.<minor> or 7.<minor>, e.g. 7.1 (\"7.x\" is not accepted by ElastiCache's Terraform resource)."
  }
}

variable "redis_nodes" {
  type        = number
  description = "Cache nodes in the replication group: 1 = no replica; 2 or more = a replica in another zone with automatic failover (replication is asynchronous: writes acknowledged just before a failover can be lost)."
  default     = 2
  validation {
    condition     = var.redis_nodes >= 1 && var.redis_nodes <= 6 && floor(var.redis_nodes) == var.redis_nodes
    error_message = "redis_nodes must be a whole number from 1 to 6."
  }
}

variable "redis_transit_encryption" {
  type        = bool
  description = "TLS between the masters and ElastiCache (rediss://; Amazon's certificates are trusted by Node.js as they are)."
  default     = true
}

variable "redis_snapshot_retention_days" {
  type        = number
  description = "Daily ElastiCache snapshots kept (0 = none)."
  default     = 1
  validation {
    condition     = var.redis_snapshot_retention_days >= 0 && var.redis_snapshot_retention_days <= 35
    error_message = "redis_snapshot_retention_days must be from 0 to 35."
  }
}

# ---- how agents find the masters -------------------------------------------------------------------

variable "load_balancer" {
  type        = bool
  description = "Put an internal Network Load Balancer in front of the masters and advertise it (--advertise-url) to the agents: user-data carries one master URL, and behind it any replica answers (the leader, or a standby with a 307 to the leader)."
  default     = true
}

variable "advertise_url" {
  type        = string
  description = "URL agents use to reach the masters (written into their user-data), e.g. a DNS name of your own in front of the load balancer. Default: the load balancer's URL, or each master's own URL without one."
  default     = null
  validation {
    condition     = var.advertise_url == null || can(regex("^https?://[^/'\\s]+$", var.advertise_url))
    error_message = "advertise_url: http(s)://host[:port], no path."
  }
}

# ---- agents --------------------------------------------------------------------------------------

variable "agent_ami_id" {
  type        = string
  description = "AMI of the rented agents, set in the launch template (any Linux with cloud-init and systemd: the master's user-data installs Node.js and the agent). Default: the latest Amazon Linux 2023 for agent_architecture at apply time."
  default     = null
  validation {
    condition     = var.agent_ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.agent_ami_id))
    error_message = "agent_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "agent_architecture" {
  type        = string
  description = "CPU architecture of the agents' default AMI; the pools' instance types must match it (arm64 for Graviton types)."
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.agent_architecture)
    error_message = "agent_architecture is x86_64 or arm64."
  }
}

variable "agent_root_volume_gb" {
  type        = number
  description = "Root volume of each agent in GiB (sandboxes of tasks live there)."
  default     = 50
  validation {
    condition     = var.agent_root_volume_gb >= 8
    error_message = "agent_root_volume_gb must be at least 8."
  }
}

variable "agent_managed_policy_arns" {
  type        = list(string)
  description = "Managed policies for the agents' role. None by default: every task on an agent can read the instance role's credentials from IMDS, so the role grants nothing unless you choose to."
  default     = []
  validation {
    condition     = alltrue([for a in var.agent_managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::", a))])
    error_message = "agent_managed_policy_arns: IAM policy ARNs."
  }
}

variable "create_spot_service_linked_role" {
  type        = bool
  description = "Create the account's AWSServiceRoleForEC2Spot service-linked role, which spot launches need. It exists once per account (creating it twice fails), so leave false if the account ever launched spot instances."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (the module adds spillway-cluster and managed-by)."
  default     = {}
}
