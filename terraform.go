package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/resource/composite"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
	"github.com/xp-auth0/auth0-eventstream/internal/tfstream"
)

// NameWorkspace is the composed Workspace's name within the pipeline. It
// differs from the EventStream's, so that moving a composite between
// backends deletes the one and creates the other rather than applying one
// kind over the other.
const NameWorkspace resource.Name = "workspace"

// The provider-terraform v1.0.1 Workspace the terraform backend composes.
// It is composed unstructured: provider-terraform's Go types do not compile
// beside this module's crossplane-runtime.
const (
	WorkspaceAPIVersion = "tf.m.upbound.io/v1beta1"
	KindWorkspace       = "Workspace"
)

// ReasonBackendUnsupported is the reason of the warning about something the
// terraform backend does not do (delivery actions).
const ReasonBackendUnsupported = "BackendUnsupported"

// workspaceHashLen is how many hex digits of the namespace and name's hash
// end a Terraform workspace name.
const workspaceHashLen = 12

// validateTerraformInput checks the terraform backend's input.
func validateTerraformInput(in *v1beta1.Input) field.ErrorList {
	if in.Terraform == nil {
		return nil
	}
	p := field.NewPath("terraform")
	if in.Backend != v1beta1.BackendTerraform {
		return field.ErrorList{field.Forbidden(p, "only with backend terraform")}
	}
	modes := []string{v1beta1.StateIsolationPerWorkspace, v1beta1.StateIsolationProviderConfig}
	if s := in.Terraform.StateIsolation; s != "" && s != modes[0] && s != modes[1] {
		return field.ErrorList{field.NotSupported(p.Child("stateIsolation"), s, modes)}
	}
	return nil
}

// terraformBackend composes a provider-terraform Workspace whose inline
// module manages the stream with terraform-provider-auth0.
type terraformBackend struct {
	// perWorkspaceState is whether the function names each Workspace's
	// Terraform workspace uniquely per namespace and name.
	perWorkspaceState bool
}

func newTerraformBackend(in *v1beta1.Terraform) terraformBackend {
	return terraformBackend{perWorkspaceState: in == nil || in.StateIsolation != v1beta1.StateIsolationProviderConfig}
}

func (terraformBackend) name() string { return v1beta1.BackendTerraform }

func (terraformBackend) resourceName() resource.Name { return NameWorkspace }

func (terraformBackend) kind() string { return KindWorkspace }

// canObserve is false: provider-terraform applies a Workspace only
// through Create, an import included.
func (terraformBackend) canObserve() bool { return false }

func (tb terraformBackend) refuse(t target, b binding, bound, observed *composed.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if err := pinTenant(b, bound, observed); err != nil {
		errs = append(errs, err)
	}
	if !mayCreate(b.ManagementPolicies) {
		// provider-terraform applies a new Workspace (an import included)
		// only through Create, and its outputs come from the state an
		// apply writes: without Create nothing would ever happen.
		errs = append(errs, field.Forbidden(field.NewPath("spec", "managementPolicies"),
			fmt.Sprintf("%v (the composite's, else the composition's) do not allow Create, which the terraform backend needs to apply the Workspace (an import of spec.streamId included); to observe a stream without managing it, use the native backend's Composition (label auth0.openmcf.org/backend: native)", policyNames(b.ManagementPolicies))))
	}
	if !tb.perWorkspaceState && len(t.Name) > validation.LabelValueMaxLength {
		// Terraform's kubernetes backend labels the state Secret with the
		// workspace's name, here the Workspace's.
		errs = append(errs, field.TooLong(field.NewPath("metadata", "name"), t.Name, validation.LabelValueMaxLength))
	}
	return errs
}

// observedForBind presents the Workspace as bind reads an EventStream: a
// Workspace's external name is its Terraform workspace, so the stream it
// holds is the id in its outputs (from the state), and the pinned id is
// the annotation the function set.
func (terraformBackend) observedForBind(ws *composed.Unstructured) *composed.Unstructured {
	v := composed.New()
	ann := map[string]string{}
	if out, ok := terraformOutputs(ws); ok {
		id, _ := out["id"].(string)
		ann[AnnotationExternalName] = id
		_ = v.SetValue("status.atProvider.id", id)
	}
	if p := ws.GetAnnotations()[AnnotationStreamID]; p != "" {
		ann[AnnotationStreamID] = p
	}
	v.SetAnnotations(ann)
	return v
}

// pinTenant refuses another ProviderConfig for a Workspace that holds a
// stream, as the native provider refuses a tenant change: the Terraform
// state that holds the stream is the old ProviderConfig's (its backend,
// its credentials' tenant), so under another one Terraform would find no
// state and create a second stream, leaving the first unmanaged.
func pinTenant(b binding, bound, observed *composed.Unstructured) *field.Error {
	id := foundStream(bound)
	if id == "" || observed == nil {
		return nil
	}
	spec, _ := observed.Object["spec"].(map[string]any)
	pcr, _ := spec["providerConfigRef"].(map[string]any)
	kind, _ := pcr["kind"].(string)
	name, _ := pcr["name"].(string)
	if kind == "" || name == "" || (kind == b.ProviderConfigRef.Kind && name == b.ProviderConfigRef.Name) {
		return nil
	}
	return field.Forbidden(field.NewPath("spec", "providerConfigRef"), fmt.Sprintf("%s %s holds stream %s through %s/%s, whose Terraform state records it; %s/%s (the composite's, else the composition's) would start from no state and create a second stream, leaving %s unmanaged. Set it back to %s/%s; to move the stream to another tenant, delete this composite with managementPolicies without Delete and import the stream with a new one",
		KindWorkspace, observed.GetName(), id, kind, name, b.ProviderConfigRef.Kind, b.ProviderConfigRef.Name, id, kind, name))
}

// checksHolders is true while the Workspace does not hold the stream
// spec.streamId names: provider-terraform would import any id.
func (terraformBackend) checksHolders(id string, bound *composed.Unstructured) bool {
	return id != "" && foundStream(bound) != id
}

// importCannotCreate is true: Terraform imports in the plan, which fails
// when the stream does not exist, and an address already in the state is
// not imported again, so the Workspace need not be held to Observe.
func (terraformBackend) importCannotCreate() bool { return true }

func (tb terraformBackend) compose(rsp *fnv1.RunFunctionResponse, xr *composite.Unstructured, _ *xrSpec, es *v1alpha1.EventStream, observed *composed.Unstructured, claim bool) (*structpb.Struct, error) {
	for _, a := range []string{AnnotationSendTestEvent, AnnotationRedeliver} {
		if _, ok := xr.GetAnnotations()[a]; ok {
			w := response.Warning(rsp, errors.Errorf("annotation %s: the terraform backend does not perform delivery actions; it is ignored", a)).WithReason(ReasonBackendUnsupported)
			if claim {
				w.TargetCompositeAndClaim()
			}
		}
	}
	held := ""
	if observed != nil {
		if out, ok := terraformOutputs(observed); ok {
			held, _ = out["id"].(string)
		}
	}
	ws, err := workspaceFor(es, held, tb.perWorkspaceState)
	if err != nil {
		return nil, errors.Wrapf(err, "%s %s", errCompose, KindWorkspace)
	}
	s, err := resource.AsStruct(ws)
	if err != nil {
		return nil, errors.Wrapf(err, "%s %s", errCompose, KindWorkspace)
	}
	return s, nil
}

// workspaceFor returns the Workspace that manages the stream es describes,
// under the same name, namespace, labels, ProviderConfig and management
// policies, labelled with the stream it holds (held, the id in its
// outputs) or imports.
func workspaceFor(es *v1alpha1.EventStream, held string, perWorkspaceState bool) (*composed.Unstructured, error) {
	// The pinned id, when spec.streamId names a stream to import.
	streamID := es.GetAnnotations()[AnnotationStreamID]
	c, err := tfstream.For(es.Spec.ForProvider, streamID)
	if err != nil {
		return nil, err
	}
	env := make([]any, 0, len(c.SecretEnv))
	for _, e := range c.SecretEnv {
		env = append(env, map[string]any{"name": e.Name, "secretKeyRef": map[string]any{"name": e.SecretName, "key": e.Key}})
	}
	vars := make(map[string]any, len(c.Vars))
	for k, v := range c.Vars {
		if s, ok := v.([]string); ok {
			l := make([]any, len(s))
			for i := range s {
				l[i] = s[i]
			}
			v = l
		}
		vars[k] = v
	}
	fp := map[string]any{
		"source":       "Inline",
		"inlineFormat": "JSON",
		"module":       string(c.Module),
		"varmap":       vars,
	}
	if len(env) > 0 {
		fp["env"] = env
	}
	spec := map[string]any{"forProvider": fp}
	if r := es.Spec.ProviderConfigReference; r != nil {
		spec["providerConfigRef"] = map[string]any{"kind": r.Kind, "name": r.Name}
	}
	if mp := es.Spec.ManagementPolicies; len(mp) > 0 {
		l := make([]any, len(mp))
		for i, a := range mp {
			l[i] = string(a)
		}
		spec["managementPolicies"] = l
	}
	u := &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: map[string]any{"spec": spec}}}
	u.SetAPIVersion(WorkspaceAPIVersion)
	u.SetKind(KindWorkspace)
	u.SetName(es.GetName())
	u.SetNamespace(es.GetNamespace())
	labels := maps.Clone(es.GetLabels())
	if id := orDefault(streamID, held); id != "" && len(validation.IsValidLabelValue(id)) == 0 {
		// What other imports check (checkHolders), and the native
		// provider too.
		if labels == nil {
			labels = map[string]string{}
		}
		labels[v1alpha1.LabelStreamID] = id
	}
	u.SetLabels(labels)
	ann := map[string]string{}
	if streamID != "" {
		// Not crossplane.io/external-name: that names the Terraform
		// workspace.
		ann[AnnotationStreamID] = streamID
	}
	if perWorkspaceState {
		// provider-terraform selects the Terraform workspace named by the
		// external name. Unique per namespace and name, with one
		// secret_suffix per ProviderConfig, every Workspace's state is its
		// own and the backend's default workspace is one per
		// ProviderConfig, not one per Workspace left behind at deletion.
		ann[AnnotationExternalName] = workspaceName(es.GetNamespace(), es.GetName())
	}
	if len(ann) > 0 {
		u.SetAnnotations(ann)
	}
	return u, nil
}

// workspaceName is the Terraform workspace of the Workspace
// namespace/name: its name, cut so the whole stays a label value (the
// kubernetes backend labels the state Secret with it), then a hash of the
// namespace and name that makes it unique. Its state Secret is
// tfstate-<workspace>-<the ProviderConfig's secret_suffix>.
func workspaceName(namespace, name string) string {
	h := sha256.Sum256([]byte(namespace + "/" + name))
	prefix := strings.TrimRight(name[:min(len(name), validation.LabelValueMaxLength-1-workspaceHashLen)], "-.")
	return prefix + "-" + hex.EncodeToString(h[:])[:workspaceHashLen]
}

// outputs reads the module's outputs, which provider-terraform copies to
// the Workspace's status.atProvider.outputs.
func (terraformBackend) outputs(cd *composed.Unstructured) (map[string]any, bool) {
	return terraformOutputs(cd)
}

func terraformOutputs(ws *composed.Unstructured) (map[string]any, bool) {
	status, _ := ws.Object["status"].(map[string]any)
	obs, _ := status["atProvider"].(map[string]any)
	o, _ := obs["outputs"].(map[string]any)
	return tfstream.Outputs(o)
}

// surface has nothing to add: Terraform reports no delivery health.
func (terraformBackend) surface(*fnv1.RunFunctionResponse, *composite.Unstructured, *composed.Unstructured, bool, masker) error {
	return nil
}
