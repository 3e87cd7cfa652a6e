#!/usr/bin/env bash
# Installs the Debian packages whose binaries the tests run themselves (on random ports, in
# temporary directories): etcd-server (etcd), mariadb-server (mariadbd/mysqld), redis-server, and the
# Prometheus exporters the node runtime runs for exporter sidecar images.
#
# - Quiet and fast (no apt) when every binary is already there.
# - As root: `apt-get update` once, then one `apt-get install --no-install-recommends` of what is
#   missing. Services are kept from starting (policy-rc.d) and are stopped and disabled
#   afterwards, so nothing occupies the default ports (2379/2380, 3306, 6379).
# - Not root: prints what to install and exits 1 when something is missing.
#
# Usage: hack/ensure-system-packages.sh   (npm's `pretest` runs it)
set -euo pipefail

# package: binaries (any one of them satisfies the package): services the package installs
SPECS=(
  "etcd-server:etcd:etcd"
  "mariadb-server:mariadbd mysqld:mariadb mysql"
  "redis-server:redis-server:redis-server"
  "prometheus-mysqld-exporter:prometheus-mysqld-exporter:prometheus-mysqld-exporter"
  "prometheus-redis-exporter:prometheus-redis-exporter:prometheus-redis-exporter"
)

have_binary() {
  local b
  for b in "$@"; do
    command -v "$b" >/dev/null 2>&1 && return 0
    # sbin is not on every user's PATH (mariadbd lives in /usr/sbin)
    [[ -x /usr/sbin/$b || -x /usr/bin/$b || -x /sbin/$b || -x /usr/local/sbin/$b ]] && return 0
  done
  return 1
}

missing=() services=() daemons=()
for spec in "${SPECS[@]}"; do
  IFS=: read -r pkg bins svcs <<<"$spec"
  # shellcheck disable=SC2086 # word splitting of the binary list is intended
  if ! have_binary $bins; then
    missing+=("$pkg")
    # shellcheck disable=SC2206
    services+=($svcs)
    # shellcheck disable=SC2206
    daemons+=($bins)
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-system-packages: missing Debian packages: ${missing[*]}" >&2
  echo "  install them as root:  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "  (then stop and disable their services: the tests start their own instances)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-packages: missing ${missing[*]} and apt-get is not available: install them with your package manager" >&2
  exit 1
fi

# Processes by exact command name, without depending on procps.
running() {
  local name=$1 f
  for f in /proc/[0-9]*/comm; do
    [[ -r $f ]] && [[ "$(cat "$f" 2>/dev/null)" == "$name" ]] && return 0
  done
  return 1
}
declare -A was_running=()
for d in "${daemons[@]}"; do running "$d" && was_running[$d]=1; done

# Keep maintainer scripts from starting services (invoke-rc.d and deb-systemd-invoke honour
# policy-rc.d; exit 101 = action forbidden). Only remove the file if we created it.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
log="$(mktemp -t ensure-system-packages.XXXXXX)"
cleanup() {
  [[ $created_policy == 1 ]] && rm -f "$POLICY"
  rm -f "$log"
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi

start=$SECONDS
echo "ensure-system-packages: installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "ensure-system-packages: apt-get failed (full log above)" >&2
  exit 1
fi

# Whatever the maintainer scripts managed to start or enable: stop it and keep it from booting.
systemd=0
[[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 && systemd=1
for s in "${services[@]}"; do
  if [[ $systemd == 1 ]]; then
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  else
    [[ -x /etc/init.d/$s ]] && { service "$s" stop >/dev/null 2>&1 || true; }
    command -v update-rc.d >/dev/null 2>&1 && { update-rc.d "$s" disable >/dev/null 2>&1 || true; }
  fi
done
# Belt and braces (a pre-existing policy-rc.d may allow starts): stop daemons of these packages that
# were not running before the install and run as services, i.e. as children of init. Instances
# the tests start are children of the test process, and are left alone.
for d in "${daemons[@]}"; do
  [[ -n ${was_running[$d]:-} ]] && continue
  for f in /proc/[0-9]*/comm; do
    [[ "$(cat "$f" 2>/dev/null)" == "$d" ]] || continue
    pid=${f#/proc/}; pid=${pid%/comm}
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }" # fields after "(comm) ": state ppid ...
    if [[ ${fields[1]:-} == 1 ]]; then
      echo "ensure-system-packages: $d (pid $pid) was started by the install; stopping it" >&2
      kill "$pid" 2>/dev/null || true
    fi
  done
done

for spec in "${SPECS[@]}"; do
  IFS=: read -r pkg bins _ <<<"$spec"
  # shellcheck disable=SC2086
  have_binary $bins || { echo "ensure-system-packages: $pkg installed but none of [$bins] found" >&2; exit 1; }
done
echo "ensure-system-packages: installed ${missing[*]} in $((SECONDS - start))s"
