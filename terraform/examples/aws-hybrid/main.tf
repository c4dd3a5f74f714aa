# Hybrid: an owned rack in the data centre first, AWS spot after it (policies/examples/hybrid-aws.yaml).
# Two masters in the VPC on an ElastiCache Redis; the rack's agents join them over the VPN, rented
# agents are launched by them into the private subnets.
#
#   terraform init && terraform apply
#   terraform output -raw policy_pool_snippet     # paste under pools: in your policy
#   spillway policy apply policy.yaml --master "$(terraform output -raw master_url)"

provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

module "spillway" {
  source = "../../modules/aws"

  cluster_name      = var.cluster_name
  vpc_id            = var.vpc_id
  master_subnet_ids = var.private_subnet_ids
  agent_subnet_ids  = var.private_subnet_ids

  # The rack's agents reach the masters, and tasks talk across the VPN both ways.
  agent_cidrs       = var.onprem_cidrs
  task_client_cidrs = var.onprem_cidrs
  operator_cidrs    = var.operator_cidrs

  master_count            = 2
  spillway_package        = var.spillway_package
  spillway_package_sha256 = var.spillway_package_sha256
  aws_identity_certs_pem  = var.aws_identity_certs_pem

  create_redis = true

  # Session Manager instead of SSH keys.
  master_managed_policy_arns      = ["arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"]
  create_spot_service_linked_role = var.create_spot_service_linked_role

  tags = { environment = var.environment }
}
