terraform {
  # `check` blocks (a warning, not an error, for a multi-master setup without one stable URL) need 1.5.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0, < 6.0"
    }
  }
}
