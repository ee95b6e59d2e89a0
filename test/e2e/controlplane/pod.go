package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// What of the pod Crossplane's Deployment runtime (v2.2.1
// internal/controller/pkg/runtime) builds for a package revision the plane
// honours for its process: the user, the environment, and (for providers,
// serviceaccount.go) the ServiceAccount.

// DefaultPodUser is the user and group Crossplane runs a package's
// container as when its DeploymentRuntimeConfig sets no securityContext:
// RunAsUser and RunAsGroup, 2000, on the pod and on the container.
const DefaultPodUser = 2000

// container returns the package-runtime container of the runtime config's
// Deployment template, nil when it has none.
func (c runtimeConfig) container() *corev1.Container {
	pod := c.podSpec()
	if pod == nil {
		return nil
	}
	for i := range pod.Containers {
		if pod.Containers[i].Name == RuntimeContainer {
			return &pod.Containers[i]
		}
	}
	return nil
}

func (c runtimeConfig) podSpec() *corev1.PodSpec {
	if dt := c.Spec.DeploymentTemplate; dt != nil && dt.Spec != nil {
		return &dt.Spec.Template.Spec
	}
	return nil
}

// user returns the uid and gid the package-runtime container runs as. As
// Crossplane builds the Deployment, the pod's securityContext is 2000:2000
// unless the template sets one, and so is the container's; as Kubernetes
// runs it, the container's runAsUser (runAsGroup) wins over the pod's,
// and where neither sets one the image's USER (group) applies. Root is
// refused: Crossplane sets runAsNonRoot by default, and the plane runs no
// package as root in any case.
func (c runtimeConfig) user(img *unpacked) (uid, gid int, err error) {
	def := int64(DefaultPodUser)
	podSC := &corev1.PodSecurityContext{RunAsUser: &def, RunAsGroup: &def}
	if pod := c.podSpec(); pod != nil && pod.SecurityContext != nil {
		podSC = pod.SecurityContext
	}
	ctrSC := &corev1.SecurityContext{RunAsUser: &def, RunAsGroup: &def}
	if ctr := c.container(); ctr != nil && ctr.SecurityContext != nil {
		ctrSC = ctr.SecurityContext
	}
	uid, gid = img.UID, img.GID
	switch {
	case ctrSC.RunAsUser != nil:
		uid = int(*ctrSC.RunAsUser)
	case podSC.RunAsUser != nil:
		uid = int(*podSC.RunAsUser)
	}
	switch {
	case ctrSC.RunAsGroup != nil:
		gid = int(*ctrSC.RunAsGroup)
	case podSC.RunAsGroup != nil:
		gid = int(*podSC.RunAsGroup)
	}
	if uid <= 0 || gid < 0 {
		return 0, 0, fmt.Errorf("%s: securityContext runs the package as %d:%d; the plane runs packages as a non-root user only", c, uid, gid)
	}
	return uid, gid, nil
}

// injectedEnv are the variables Crossplane adds to the package-runtime
// container after the runtime config's env: for a provider POD_NAMESPACE,
// PROVIDER_NAME, REVISION_NAME and REVISION_UID, for a function
// FUNCTION_NAME, REVISION_NAME and REVISION_UID. The TLS certificate
// folders it also sets are where it mounts the revision's TLS Secrets;
// the plane hands a function its server certificate by flag and a
// provider none (ours serve no webhooks), so it sets none of them.
func injectedEnv(kind string, rev *unstructured.Unstructured) []corev1.EnvVar {
	pkg := rev.GetLabels()[packageLabel]
	env := make([]corev1.EnvVar, 0, 4)
	if kind == "Provider" {
		env = append(env, corev1.EnvVar{Name: "POD_NAMESPACE", Value: crossplaneNamespace}, corev1.EnvVar{Name: "PROVIDER_NAME", Value: pkg})
	} else {
		env = append(env, corev1.EnvVar{Name: "FUNCTION_NAME", Value: pkg})
	}
	return append(env,
		corev1.EnvVar{Name: "REVISION_NAME", Value: rev.GetName()},
		corev1.EnvVar{Name: "REVISION_UID", Value: string(rev.GetUID())})
}

// environment returns the variables the package-runtime container sets
// as the kubelet makes them (KEY=VALUE, in order): its envFrom (in order,
// each Secret's or ConfigMap's keys with its prefix), then its env and
// injected (in order, $(VAR) expanded against the container's variables
// defined before). Secrets and ConfigMaps are read from crossplane-system,
// the pod's namespace; a missing one is an error unless optional, as the
// kubelet would not start the container.
func (p *plane) environment(ctx context.Context, c runtimeConfig, injected []corev1.EnvVar) ([]string, error) {
	var ctr corev1.Container
	if cc := c.container(); cc != nil {
		ctr = *cc
	}
	defined := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := defined[k]; !ok {
			order = append(order, k)
		}
		defined[k] = v
	}
	for i, from := range ctr.EnvFrom {
		data, err := p.envSource(ctx, from)
		if err != nil {
			return nil, fmt.Errorf("%s: envFrom[%d]: %w", c, i, err)
		}
		for _, k := range sortedKeys(data) {
			set(from.Prefix+k, data[k])
		}
	}
	for i, e := range append(slices.Clone(ctr.Env), injected...) {
		v, err := p.envValue(ctx, e, defined)
		if err != nil {
			return nil, fmt.Errorf("%s: env[%d] %s: %w", c, i, e.Name, err)
		}
		set(e.Name, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+defined[k])
	}
	return env, nil
}

// overlay lays a container's variables over the image's: a variable the
// container sets replaces the image's of the same name.
func overlay(image, container []string) []string {
	names := map[string]bool{}
	for _, kv := range container {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	env := slices.DeleteFunc(slices.Clone(image), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return names[k]
	})
	return append(env, container...)
}

// pod is what a revision's process runs as, from its runtime config.
type pod struct {
	UID, GID int
	// Env are the container's own variables (over the image's).
	Env []string
}

// podFor resolves the user and environment of a revision's container.
func (p *plane) podFor(ctx context.Context, kind string, rev *unstructured.Unstructured, c runtimeConfig, img *unpacked) (pod, error) {
	uid, gid, err := c.user(img)
	if err != nil {
		return pod{}, err
	}
	env, err := p.environment(ctx, c, injectedEnv(kind, rev))
	if err != nil {
		return pod{}, err
	}
	return pod{UID: uid, GID: gid, Env: env}, nil
}

// digest identifies the pod's user and environment, so a change restarts
// the process; a digest, since the environment may hold secrets.
func (pd pod) digest() string {
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%d:%d\n", pd.UID, pd.GID)
	for _, e := range pd.Env {
		_, _ = fmt.Fprintf(h, "%q\n", e)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// apply makes the unpacked image run as the pod: its user, its variables
// over the image's.
func (pd pod) apply(img *unpacked) {
	img.UID, img.GID = pd.UID, pd.GID
	img.Env = overlay(img.Env, pd.Env)
}

func (p *plane) envSource(ctx context.Context, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.SecretRef != nil:
		s, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %s: %w", from.SecretRef.Name, err)
		}
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, nil
	case from.ConfigMapRef != nil:
		cm, err := p.kube.CoreV1().ConfigMaps(crossplaneNamespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("config map %s: %w", from.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	}
	return nil, fmt.Errorf("names neither a Secret nor a ConfigMap")
}

// envValue resolves one env entry: a value ($(VAR) expanded), a Secret's
// or ConfigMap's key in crossplane-system. Field and resource references
// are refused: the plane has no pod to read them from.
func (p *plane) envValue(ctx context.Context, e corev1.EnvVar, defined map[string]string) (string, error) {
	if e.ValueFrom == nil {
		return expand(e.Value, defined), nil
	}
	switch ref := e.ValueFrom; {
	case ref.SecretKeyRef != nil:
		s, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Get(ctx, ref.SecretKeyRef.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := s.Data[ref.SecretKeyRef.Key]; ok {
				return string(v), nil
			}
			err = fmt.Errorf("no key %s", ref.SecretKeyRef.Key)
		}
		if ref.SecretKeyRef.Optional != nil && *ref.SecretKeyRef.Optional {
			return "", nil
		}
		return "", fmt.Errorf("valueFrom.secretKeyRef %s: %w", ref.SecretKeyRef.Name, err)
	case ref.ConfigMapKeyRef != nil:
		cm, err := p.kube.CoreV1().ConfigMaps(crossplaneNamespace).Get(ctx, ref.ConfigMapKeyRef.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[ref.ConfigMapKeyRef.Key]; ok {
				return v, nil
			}
			err = fmt.Errorf("no key %s", ref.ConfigMapKeyRef.Key)
		}
		if ref.ConfigMapKeyRef.Optional != nil && *ref.ConfigMapKeyRef.Optional {
			return "", nil
		}
		return "", fmt.Errorf("valueFrom.configMapKeyRef %s: %w", ref.ConfigMapKeyRef.Name, err)
	}
	return "", fmt.Errorf("valueFrom: only secretKeyRef and configMapKeyRef are played (no pod for field or resource references)")
}

// expand replaces $(VAR) with the value of a variable defined before, as
// Kubernetes does; $$ is a literal $, and a reference to an undefined
// variable stays as written.
func expand(s string, defined map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := defined[name]; ok {
					b.WriteString(v)
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
