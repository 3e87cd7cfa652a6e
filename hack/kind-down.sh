#!/usr/bin/env bash
# Deletes the kind cluster made by hack/kind-up.sh. --purge also removes the generated
# certificates and overlay ($UPM_DEPLOY_DIR, default .upm/deploy).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER_NAME:-upm}"
DEPLOY_DIR="${UPM_DEPLOY_DIR:-$ROOT/.upm/deploy}"
PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kind-down: unknown argument: $a" >&2; exit 1 ;;
  esac
done

command -v kind >/dev/null 2>&1 || { echo "kind-down: kind is required but not on PATH (https://kind.sigs.k8s.io/)" >&2; exit 1; }

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "kind-down: no kind cluster named $CLUSTER"
fi
if [[ $PURGE == 1 && -d $DEPLOY_DIR ]]; then
  rm -rf -- "$DEPLOY_DIR"
  echo "kind-down: removed $DEPLOY_DIR"
fi
