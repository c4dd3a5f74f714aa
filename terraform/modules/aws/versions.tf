terraform {
  # `check` blocks (a warning, not an error, for a multi-master setup without one stable URL) need 1.5.
  required_version = ">= 1.5"

  # 5.30: security groups on Network Load Balancers and the aws_vpc_security_group_*_rule resources.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 6.0"
    }
  }
}
