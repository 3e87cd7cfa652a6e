// Builds kube-apiserver, kube-controller-manager and kube-scheduler from k8s.io/kubernetes.
// Only the module line is kept here: hack/kubernetes/build.sh copies this file to its build
// directory and adds the rest from the downloaded k8s.io/kubernetes go.mod (its go and godebug
// lines, one replace per staging module it requires at v0.0.0, the tool directives).
module upm.io/hack/kubernetes/kube
