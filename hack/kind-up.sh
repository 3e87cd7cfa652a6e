#!/usr/bin/env bash
# Brings up the upm.io aggregated API server on a local kind cluster:
#   1. create kind cluster "$KIND_CLUSTER_NAME" (default upm) unless it exists
#   2. docker build the image ($UPM_IMAGE, default upm-engine:dev) and kind-load it
#   3. hack/gen-certs.sh: CA + serving certificate → Secret, APIService caBundle, overlay in $UPM_DEPLOY_DIR
#   4. kubectl apply -k the overlay (config/apiservice + Secret + caBundle patch)
#   5. wait for the Deployment and for APIService v1alpha1.upm.io to be Available
# Re-running is safe: it reuses the cluster and the certificates and restarts the pod on the new image.
#
# Needs: docker (with a running engine), kind, kubectl, openssl, node.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER_NAME:-upm}"
IMAGE="${UPM_IMAGE:-upm-engine:dev}"
DEPLOY_DIR="${UPM_DEPLOY_DIR:-$ROOT/.upm/deploy}"
TIMEOUT="${UPM_WAIT_TIMEOUT:-300s}"
CTX="kind-$CLUSTER"
NS=upm-system
APISERVICE=v1alpha1.upm.io

die() { echo "kind-up: $*" >&2; exit 1; }
step() { echo "==> $*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not on PATH. $2"
}
need docker "Install Docker: https://docs.docker.com/engine/install/"
need kind "Install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "Install kubectl: https://kubernetes.io/docs/tasks/tools/"
need openssl "Debian/Ubuntu: apt-get install openssl"
need node "Install Node.js 20 or later"
docker info >/dev/null 2>&1 || die "cannot reach the Docker engine (is the daemon running, and may this user use it?)"

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  step "kind cluster $CLUSTER exists"
else
  step "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 180s
fi
k() { kubectl --context "$CTX" "$@"; }
k cluster-info >/dev/null || die "cannot reach cluster $CTX"

step "building image $IMAGE"
docker build -t "$IMAGE" "$ROOT"
step "loading $IMAGE into kind cluster $CLUSTER"
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "generating certificates and the overlay in $DEPLOY_DIR"
"$ROOT/hack/gen-certs.sh" --out "$DEPLOY_DIR" --image "$IMAGE"

existed=0
k -n "$NS" get deployment/upm-apiserver >/dev/null 2>&1 && existed=1
step "applying $DEPLOY_DIR"
k apply -k "$DEPLOY_DIR"
# Same tag, new image: the Deployment spec did not change, so restart it explicitly.
if [[ $existed == 1 ]]; then k -n "$NS" rollout restart deployment/upm-apiserver; fi

diagnose() {
  echo "---- diagnostics ----" >&2
  k get apiservice "$APISERVICE" -o yaml >&2 || true
  k -n "$NS" get pods,endpointslices,pvc -o wide >&2 || true
  k -n "$NS" describe pods -l app.kubernetes.io/name=upm-apiserver >&2 || true
  k -n "$NS" logs -l app.kubernetes.io/name=upm-apiserver --tail=100 --all-containers >&2 || true
}

step "waiting for deployment/upm-apiserver"
k -n "$NS" rollout status deployment/upm-apiserver --timeout="$TIMEOUT" || { diagnose; die "the Deployment did not become ready"; }
step "waiting for APIService $APISERVICE to be Available"
k wait --for=condition=Available "apiservice/$APISERVICE" --timeout="$TIMEOUT" || { diagnose; die "APIService $APISERVICE is not Available"; }
k get --raw "/apis/upm.io/v1alpha1" >/dev/null || { diagnose; die "GET /apis/upm.io/v1alpha1 through kube-apiserver failed"; }

echo
echo "upm.io/v1alpha1 is served through kube-apiserver on cluster $CTX:"
echo "  kubectl --context $CTX api-resources --api-group=upm.io"
echo "Tear down with: hack/kind-down.sh"
