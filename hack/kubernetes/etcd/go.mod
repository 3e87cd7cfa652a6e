// Builds etcd from go.etcd.io/etcd/server/v3 (its main package) at the version Kubernetes
// requires; hack/kubernetes/build.sh adds the go line, the requirement and the tool directive.
module upm.io/hack/kubernetes/etcd
