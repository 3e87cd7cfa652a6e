#!/usr/bin/env bash
# Generates the TLS material for the in-cluster upm.io API server and a kustomize overlay that
# deploys it:
#
#   <out>/ca.crt ca.key            CA (RSA 2048, 10 years) whose certificate becomes the APIService caBundle
#   <out>/tls.crt tls.key          serving certificate (1 year, EKU serverAuth) for
#                                  upm-apiserver.upm-system.svc[.cluster.local] (the SNI kube-aggregator uses)
#   <out>/serving-secret.yaml      Secret upm-system/upm-apiserver-serving (kubernetes.io/tls, + ca.crt)
#   <out>/apiservice-cabundle.yaml patch setting spec.caBundle of APIService v1alpha1.upm.io
#   <out>/kustomization.yaml       overlay: config/apiservice + the Secret + the patch (+ image)
#
# Then: kubectl apply -k <out>
#
# Idempotent: an existing CA is kept while it is valid for more than CA_MIN_DAYS, and an existing
# serving certificate while it is valid for more than CERT_MIN_DAYS, signed by that CA, matching
# its key and covering the service names; otherwise they are regenerated (--force: always).
# Only openssl and node (to compute a relative path for kustomize) are needed.
#
# Usage: hack/gen-certs.sh [--out DIR] [--image IMAGE[:TAG]] [--force]
#   --out DIR     default: <repo>/.upm/deploy (git-ignored; holds private keys, mode 0600)
#   --image REF   image for the Deployment in the overlay (default: upm-engine:dev from the base)
#   --force       regenerate the CA and the serving certificate
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/config/apiservice"
OUT="$ROOT/.upm/deploy"
IMAGE=""
FORCE=0

# Fixed by the manifests in config/apiservice (and by src/pki/bundle.ts SERVICE_HOSTS).
NAMESPACE=upm-system
SERVICE=upm-apiserver
SECRET=upm-apiserver-serving
APISERVICE=v1alpha1.upm.io

CA_DAYS=${CA_DAYS:-3650}
CERT_DAYS=${CERT_DAYS:-365}
CA_MIN_DAYS=${CA_MIN_DAYS:-400}   # outlive a freshly issued serving certificate
CERT_MIN_DAYS=${CERT_MIN_DAYS:-120}

die() { echo "gen-certs: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --image) [[ $# -ge 2 ]] || die "--image needs a reference"; IMAGE="$2"; shift 2 ;;
    --image=*) IMAGE="${1#--image=}"; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

command -v openssl >/dev/null || die "openssl not found (Debian/Ubuntu: apt-get install openssl)"
command -v node >/dev/null || die "node not found (needed to compute a path for kustomize)"

DNS_NAMES=("$SERVICE.$NAMESPACE.svc" "$SERVICE.$NAMESPACE.svc.cluster.local" "$SERVICE.$NAMESPACE" "$SERVICE")

mkdir -p "$OUT"
chmod 700 "$OUT"
OUT="$(cd "$OUT" && pwd)"
umask 077

CNF="$OUT/openssl.cnf"
{
  echo '[req]'
  echo 'distinguished_name = dn'
  echo 'prompt = no'
  echo '[dn]'
  echo 'CN = upm-apiserver-ca'
  echo '[v3_ca]'
  echo 'basicConstraints = critical,CA:TRUE'
  echo 'keyUsage = critical,keyCertSign,cRLSign,digitalSignature'
  echo 'subjectKeyIdentifier = hash'
  echo 'authorityKeyIdentifier = keyid:always'
  echo '[v3_serving]'
  echo 'basicConstraints = critical,CA:FALSE'
  echo 'keyUsage = critical,digitalSignature,keyEncipherment'
  echo 'extendedKeyUsage = serverAuth'
  echo 'subjectKeyIdentifier = hash'
  echo 'authorityKeyIdentifier = keyid:always'
  printf 'subjectAltName = '
  sep=''
  for n in "${DNS_NAMES[@]}"; do printf '%sDNS:%s' "$sep" "$n"; sep=','; done
  echo
} >"$CNF"

serial() { echo "0x$(openssl rand -hex 16)"; }
valid_for_days() { openssl x509 -noout -checkend "$(($2 * 86400))" -in "$1" >/dev/null 2>&1; }
key_matches() {
  [[ "$(openssl x509 -noout -pubkey -in "$1" 2>/dev/null)" == "$(openssl pkey -pubout -in "$2" 2>/dev/null)" ]] &&
    [[ -n "$(openssl pkey -pubout -in "$2" 2>/dev/null)" ]]
}
covers_names() {
  local n
  for n in "${DNS_NAMES[@]}"; do
    openssl x509 -noout -in "$1" -checkhost "$n" 2>/dev/null | grep -q 'does match' || return 1
  done
}

CA_CRT="$OUT/ca.crt" CA_KEY="$OUT/ca.key" TLS_CRT="$OUT/tls.crt" TLS_KEY="$OUT/tls.key"

new_ca=0
if [[ $FORCE == 1 ]] || ! [[ -s $CA_CRT && -s $CA_KEY ]] || ! valid_for_days "$CA_CRT" "$CA_MIN_DAYS" || ! key_matches "$CA_CRT" "$CA_KEY"; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CA_KEY.tmp" 2>/dev/null
  openssl req -x509 -new -config "$CNF" -extensions v3_ca -key "$CA_KEY.tmp" -sha256 -days "$CA_DAYS" \
    -set_serial "$(serial)" -out "$CA_CRT.tmp"
  mv "$CA_KEY.tmp" "$CA_KEY"
  mv "$CA_CRT.tmp" "$CA_CRT"
  new_ca=1
  echo "gen-certs: new CA $CA_CRT"
fi

if [[ $FORCE == 1 || $new_ca == 1 ]] || ! [[ -s $TLS_CRT && -s $TLS_KEY ]] || ! valid_for_days "$TLS_CRT" "$CERT_MIN_DAYS" ||
  ! key_matches "$TLS_CRT" "$TLS_KEY" || ! openssl verify -CAfile "$CA_CRT" -purpose sslserver "$TLS_CRT" >/dev/null 2>&1 ||
  ! covers_names "$TLS_CRT"; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TLS_KEY.tmp" 2>/dev/null
  openssl req -new -config "$CNF" -key "$TLS_KEY.tmp" -subj "/CN=$SERVICE.$NAMESPACE.svc" -out "$OUT/tls.csr"
  # Note: openssl 3.0 cannot back-date notBefore; nodes with clocks behind ours reject the
  # certificate for a few seconds at most when they are NTP-synchronised.
  openssl x509 -req -in "$OUT/tls.csr" -CA "$CA_CRT" -CAkey "$CA_KEY" -set_serial "$(serial)" -days "$CERT_DAYS" \
    -sha256 -extfile "$CNF" -extensions v3_serving -out "$TLS_CRT.tmp" 2>/dev/null
  rm -f "$OUT/tls.csr"
  mv "$TLS_KEY.tmp" "$TLS_KEY"
  mv "$TLS_CRT.tmp" "$TLS_CRT"
  echo "gen-certs: new serving certificate $TLS_CRT ($(IFS=,; echo "${DNS_NAMES[*]}"))"
fi
openssl verify -CAfile "$CA_CRT" -purpose sslserver "$TLS_CRT" >/dev/null || die "serving certificate does not verify against the CA"

b64() { openssl base64 -A -in "$1"; }

cat >"$OUT/serving-secret.yaml" <<EOF
# Generated by hack/gen-certs.sh. Contains a private key: do not commit.
apiVersion: v1
kind: Secret
metadata:
  name: $SECRET
  namespace: $NAMESPACE
  labels:
    app.kubernetes.io/name: upm-apiserver
    app.kubernetes.io/part-of: upm-engine
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$TLS_CRT")
  tls.key: $(b64 "$TLS_KEY")
  ca.crt: $(b64 "$CA_CRT")
EOF

cat >"$OUT/apiservice-cabundle.yaml" <<EOF
# Generated by hack/gen-certs.sh: the CA that signed the serving certificate in Secret $NAMESPACE/$SECRET.
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: $APISERVICE
spec:
  caBundle: $(b64 "$CA_CRT")
EOF

REL_BASE="$(node -e 'process.stdout.write(require("path").relative(process.argv[1], process.argv[2]) || ".")' "$OUT" "$BASE")"
{
  echo "# Generated by hack/gen-certs.sh. Apply with: kubectl apply -k $OUT"
  echo 'apiVersion: kustomize.config.k8s.io/v1beta1'
  echo 'kind: Kustomization'
  echo 'resources:'
  echo "  - $REL_BASE"
  echo '  - serving-secret.yaml'
  echo 'patches:'
  echo '  - path: apiservice-cabundle.yaml'
  if [[ -n $IMAGE ]]; then
    name="$IMAGE" tag="" digest=""
    if [[ $name == *@* ]]; then digest="${name#*@}"; name="${name%%@*}"; fi
    if [[ ${name##*/} == *:* ]]; then tag="${name##*:}"; name="${name%:*}"; fi
    if [[ -z $tag && -z $digest ]]; then tag=latest; fi # as docker reads an untagged reference
    echo 'images:'
    echo '  - name: upm-engine'
    echo "    newName: $name"
    if [[ -n $tag ]]; then echo "    newTag: \"$tag\""; fi
    if [[ -n $digest ]]; then echo "    digest: $digest"; fi
  fi
} >"$OUT/kustomization.yaml"
chmod 600 "$OUT"/*.key "$OUT/serving-secret.yaml"
chmod 644 "$OUT"/*.crt "$OUT/apiservice-cabundle.yaml" "$OUT/kustomization.yaml" "$CNF"

echo "gen-certs: wrote $OUT (kubectl apply -k $OUT)"
