#!/bin/sh
# Spillway agent bootstrap, run once by cloud-init (runcmd) on a fresh VM. It installs Node.js if
# the VM has none (>= 20), downloads the agent bundle from the master, refuses it unless its sha256
# is the one written below, unpacks it and starts the agent: under systemd when the VM runs it,
# otherwise (containers; SPILLWAY_BOOTSTRAP_SYSTEMD=no) as a background process. Everything lives
# under $SPILLWAY_PREFIX; the agent's config (with the single-use join token) is etc/agent.json.
# Every step logs to stderr (cloud-init keeps it in /var/log/cloud-init-output.log) and syslog.
set -eu

# @@SETTINGS@@

log() {
  echo "spillway-bootstrap: $*" >&2
  if command -v logger >/dev/null 2>&1; then logger -t spillway-bootstrap -- "$*" || true; fi
}
die() { log "error: $*"; exit 1; }
umask 022

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
find_node() {
  for n in "$SPILLWAY_PREFIX/node/bin/node" "$(command -v node 2>/dev/null || true)"; do
    if [ -n "$n" ] && [ -x "$n" ] && [ "$(node_major "$n")" -ge 20 ]; then echo "$n"; return 0; fi
  done
  return 1
}

# fetch URL FILE [CA]: curl, else wget (both trusting only the pinned CA when one is given).
fetch() {
  if command -v curl >/dev/null 2>&1; then
    if [ -n "${3:-}" ]; then curl -fsSL --retry 5 --retry-connrefused --retry-delay 2 --cacert "$3" -o "$2" "$1"
    else curl -fsSL --retry 5 --retry-connrefused --retry-delay 2 -o "$2" "$1"; fi
  elif command -v wget >/dev/null 2>&1; then
    if [ -n "${3:-}" ]; then wget -q --tries=5 --ca-certificate="$3" -O "$2" "$1"
    else wget -q --tries=5 -O "$2" "$1"; fi
  else
    return 127
  fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

install_node() {
  log "Node.js >= 20 not found: installing it"
  if command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs >/dev/null 2>&1 || true
  elif command -v dnf >/dev/null 2>&1; then
    dnf install -y -q nodejs >/dev/null 2>&1 || true
  fi
  find_node >/dev/null && return 0
  # The distribution's Node is missing or too old: the official build, checked against its SHASUMS.
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) die "no Node.js build for $(uname -m)" ;; esac
  name="node-v$SPILLWAY_NODE_VERSION-linux-$arch.tar.gz"
  tmp="$SPILLWAY_PREFIX/tmp"
  mkdir -p "$tmp"
  fetch "$SPILLWAY_NODE_DIST/v$SPILLWAY_NODE_VERSION/$name" "$tmp/$name" || die "cannot download $name from $SPILLWAY_NODE_DIST"
  fetch "$SPILLWAY_NODE_DIST/v$SPILLWAY_NODE_VERSION/SHASUMS256.txt" "$tmp/SHASUMS256.txt" || die "cannot download SHASUMS256.txt for Node.js"
  want=$(grep " $name\$" "$tmp/SHASUMS256.txt" | cut -d' ' -f1)
  [ -n "$want" ] && [ "$(sha256_of "$tmp/$name")" = "$want" ] || die "Node.js download $name does not match SHASUMS256.txt"
  rm -rf "$SPILLWAY_PREFIX/node" && mkdir -p "$SPILLWAY_PREFIX/node"
  tar -xzf "$tmp/$name" -C "$SPILLWAY_PREFIX/node" --strip-components=1
  rm -rf "$tmp"
}

mkdir -p "$SPILLWAY_PREFIX" "$SPILLWAY_PREFIX/work"
NODE=$(find_node) || { install_node; NODE=$(find_node) || die "Node.js >= 20 could not be installed"; }
log "using Node.js $("$NODE" --version) at $NODE"

bundle="$SPILLWAY_PREFIX/spillway-agent.tar.gz"
log "downloading the agent bundle from $SPILLWAY_BUNDLE_URL"
fetch "$SPILLWAY_BUNDLE_URL" "$bundle.part" "$SPILLWAY_CA_FILE" || die "cannot download the agent bundle from $SPILLWAY_BUNDLE_URL"
got=$(sha256_of "$bundle.part")
if [ "$got" != "$SPILLWAY_BUNDLE_SHA256" ]; then
  rm -f "$bundle.part"
  die "agent bundle sha256 mismatch: expected $SPILLWAY_BUNDLE_SHA256, got $got; refusing to install it"
fi
mv -f "$bundle.part" "$bundle"
rm -rf "$SPILLWAY_PREFIX/agent.new" && mkdir -p "$SPILLWAY_PREFIX/agent.new"
tar -xzf "$bundle" -C "$SPILLWAY_PREFIX/agent.new"
rm -rf "$SPILLWAY_PREFIX/agent" && mv "$SPILLWAY_PREFIX/agent.new" "$SPILLWAY_PREFIX/agent"
log "agent bundle $got installed in $SPILLWAY_PREFIX/agent"

entry="$SPILLWAY_PREFIX/agent/spillway-agent/spillway-agent.mjs"
config="$SPILLWAY_PREFIX/etc/agent.json"
if [ "${SPILLWAY_BOOTSTRAP_SYSTEMD:-auto}" != no ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  unit=/etc/systemd/system/spillway-agent.service
  sed -e "s#@NODE@#$NODE#g" -e "s#@ENTRY@#$entry#g" -e "s#@CONFIG@#$config#g" -e "s#@PREFIX@#$SPILLWAY_PREFIX#g" \
    "$SPILLWAY_PREFIX/spillway-agent.service.in" > "$unit"
  systemctl daemon-reload
  systemctl enable --now spillway-agent.service
  log "agent started under systemd (spillway-agent.service)"
else
  nohup "$NODE" "$entry" agent --config "$config" >>"$SPILLWAY_PREFIX/agent.log" 2>&1 </dev/null &
  log "no systemd: agent started in the background (pid $!, log $SPILLWAY_PREFIX/agent.log)"
fi
