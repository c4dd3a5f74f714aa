output "script" {
  description = "The rendered master host script (#!/bin/sh): EC2 user-data for the aws module (which gzips it), the startup-script metadata for the gcp module."
  # It holds the Redis URL (a password, on GCP Memorystore's AUTH string) and the TLS key.
  value     = templatefile("${path.module}/master-host.sh.tftpl", local.template_vars)
  sensitive = true
}
