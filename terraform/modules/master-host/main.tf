# The setup script of a Spillway master host, rendered for the aws or the gcp module from the one
# template both use: a fix to it reaches both clouds.

locals {
  # var.tls is sensitive, and so is anything computed from it, even `var.tls == null`. Whether TLS
  # is on is no secret; the PEMs stay sensitive (and so does the script, see outputs.tf).
  tls_enabled = nonsensitive(var.tls != null)

  # Extra flags as systemd ExecStart words: double-quoted, with systemd's own escapes for
  # backslash, quote, `$` (environment expansion) and `%` (unit specifiers).
  extra_master_args = [
    for k in sort(keys(var.master_flags)) : var.master_flags[k] == "" ? "--${k}" : format("\"--%s=%s\"", k,
      replace(replace(replace(replace(var.master_flags[k], "\\", "\\\\"), "\"", "\\\""), "$", "$$"), "%", "%%"))
  ]

  # The variables of master-host.sh.tftpl: exactly the ones it uses, with "" for what is off (the
  # template tests for "", not null), including the other cloud's identity setting.
  template_vars = {
    cloud                   = var.cloud
    cluster_name            = var.cluster_name
    master_port             = var.master_port
    leader_lease_seconds    = var.leader_lease_seconds
    agent_auth              = var.agent_auth
    advertise_url           = var.advertise_url == null ? "" : var.advertise_url
    scheme                  = var.scheme
    redis_url               = var.redis_url
    node_version            = var.node_version
    node_dist_url           = var.node_dist_url
    spillway_package        = var.spillway_package
    spillway_package_sha256 = var.spillway_package_sha256 == null ? "" : var.spillway_package_sha256
    tls_cert_pem            = local.tls_enabled ? var.tls.cert_pem : ""
    tls_key_pem             = local.tls_enabled ? var.tls.key_pem : ""
    tls_ca_pem              = local.tls_enabled ? (var.tls.ca_pem == null ? "" : var.tls.ca_pem) : ""
    aws_identity_certs_pem  = var.aws_identity_certs_pem == null ? "" : var.aws_identity_certs_pem
    gcp_identity_jwks       = var.gcp_identity_jwks == null ? "" : var.gcp_identity_jwks
    extra_args              = local.extra_master_args
  }
}
