#!/usr/bin/env bash
# Builds the real control plane the real-cluster tests run, from Go modules (no release downloads):
#   kube-apiserver, kube-controller-manager, kube-scheduler  k8s.io/kubernetes $KUBE_VERSION
#   etcd                                                     go.etcd.io/etcd/server/v3, the version Kubernetes requires
#   kwok                                                     sigs.k8s.io/kwok $KWOK_VERSION (go install)
# into ${UPM_KUBE_CACHE:-~/.cache/upm-engine/kubernetes}/$KUBE_VERSION/, only what is missing.
# Versions: hack/kubernetes/versions.env. Needs Go (1.26 builds all of the above) and a module proxy.
#
# `go install k8s.io/kubernetes/cmd/...@v` is refused (its go.mod has replace directives) and a
# dependency's replaces are ignored, so our wrapper module (kube/go.mod) replaces every staging module
# k8s.io/kubernetes requires at v0.0.0 with its published v0.<minor>.<patch>. The list is read from
# the downloaded go.mod, never typed. The same holds for etcd (etcd/go.mod).
#
# Usage: hack/kubernetes/build.sh [--print-dir]   (npm's `pretest` runs it)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache_root="${UPM_KUBE_CACHE:-$HOME/.cache/upm-engine/kubernetes}"
dir="$cache_root/$KUBE_VERSION"
if [[ ${1:-} == --print-dir ]]; then
  echo "$dir"
  exit 0
fi

kube_bins=(kube-apiserver kube-controller-manager kube-scheduler)
all_bins=("${kube_bins[@]}" etcd kwok)
missing() {
  local b out=()
  for b in "$@"; do [[ -x $dir/$b ]] || out+=("$b"); done
  echo "${out[*]}"
}
[[ -z $(missing "${all_bins[@]}") ]] && exit 0

if ! command -v go >/dev/null 2>&1; then
  echo "hack/kubernetes/build.sh: Go is needed to build $(missing "${all_bins[@]}") into $dir" >&2
  echo "  install Go 1.26 or newer (https://go.dev/dl/), or set UPM_KUBE_CACHE to a directory holding them" >&2
  exit 1
fi

mkdir -p "$dir"
# One build at a time per cache directory (two test runs may start together).
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
[[ -z $(missing "${all_bins[@]}") ]] && exit 0

log() { printf 'hack/kubernetes/build.sh: %s\n' "$*"; }
# The go commands' own output (downloads, module changes) goes to $dir/build.log; its end is
# shown when a step fails.
build_log="$dir/build.log"
: >"$build_log"
quietly() {
  if ! "$@" >>"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    log "failed: $* (full log: $build_log)" >&2
    exit 1
  fi
}
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
total=$SECONDS
log "building $(missing "${all_bins[@]}") into $dir ($(go version | cut -d' ' -f3), a cold build takes about 10 minutes on 2 cores)"

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildvcs=false"
src="$dir/src" # the generated wrapper modules, kept for inspection
stage="$dir/.stage"
rm -rf "$stage"
mkdir -p "$src" "$stage"

# go.mod of a downloaded module version: its path in the module cache.
downloaded_go_mod() {
  local json
  json=$(go mod download -json "$1" 2>>"$build_log") || {
    log "cannot download $1: $json" >&2
    exit 1
  }
  awk -F'"' '$2 == "GoMod" { print $4 }' <<<"$json"
}
# Copies our wrapper's go.mod to $src/$1 and gives it the go and godebug lines of $2 (a go.mod).
start_module() {
  rm -rf "${src:?}/$1"
  mkdir -p "$src/$1"
  cp "$here/$1/go.mod" "$src/$1/go.mod"
  local go_line godebug
  go_line=$(awk '$1 == "go" { print $2; exit }' "$2")
  godebug=$(awk '$1 == "godebug" && NF == 2 { print $2 }' "$2")
  (
    cd "$src/$1"
    quietly go mod edit -go="$go_line"
    for d in $godebug; do quietly go mod edit -godebug="$d"; done
  )
}

kube_go_mod=$(downloaded_go_mod "k8s.io/kubernetes@$KUBE_VERSION")

if [[ -n $(missing "${kube_bins[@]}") ]]; then
  t=$SECONDS
  start_module kube "$kube_go_mod"
  staging_version="v0.${KUBE_VERSION#v1.}" # v1.34.4 -> v0.34.4
  # The staging modules: the `k8s.io/<name> v0.0.0` requirements of k8s.io/kubernetes.
  mapfile -t staging < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$kube_go_mod")
  if [[ ${#staging[@]} -eq 0 ]]; then
    log "found no staging modules in $kube_go_mod" >&2
    exit 1
  fi
  (
    cd "$src/kube"
    for m in "${staging[@]}"; do quietly go mod edit -replace="$m=$m@$staging_version"; done
    quietly go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBE_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@$KUBE_VERSION"
  )
  log "resolved k8s.io/kubernetes $KUBE_VERSION with ${#staging[@]} staging modules at $staging_version ($(elapsed "$t"))"

  t=$SECONDS
  minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  log "building ${kube_bins[*]} ..."
  (
    cd "$src/kube"
    quietly go build -ldflags "$ldflags" -o "$stage/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  )
  for b in "${kube_bins[@]}"; do mv -f "$stage/$b" "$dir/$b"; done
  log "built ${kube_bins[*]} $KUBE_VERSION ($(elapsed "$t"))"
fi

if [[ ! -x $dir/etcd ]]; then
  t=$SECONDS
  etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$kube_go_mod")
  etcd_go_mod=$(downloaded_go_mod "go.etcd.io/etcd/server/v3@$etcd_version")
  start_module etcd "$etcd_go_mod"
  log "building etcd $etcd_version ..."
  (
    cd "$src/etcd"
    quietly go get -tool "go.etcd.io/etcd/server/v3@$etcd_version"
    quietly go build -ldflags "-s -w" -o "$stage/etcd" go.etcd.io/etcd/server/v3
  )
  mv -f "$stage/etcd" "$dir/etcd"
  log "built etcd $etcd_version ($(elapsed "$t"))"
fi

if [[ ! -x $dir/kwok ]]; then
  t=$SECONDS
  log "building kwok $KWOK_VERSION ..."
  GOBIN="$stage" quietly go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv -f "$stage/kwok" "$dir/kwok"
  log "built kwok $KWOK_VERSION ($(elapsed "$t"))"
fi

rm -rf "$stage"
log "done in $(elapsed "$total"): $(cd "$dir" && du -ch "${all_bins[@]}" | tail -n1 | cut -f1) of binaries in $dir"
