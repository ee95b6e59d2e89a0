package main

import (
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"

	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
)

// validInputs remembers the function inputs that passed validation, by the
// hash of their canonical encoding (specKey): a Composition's input is the
// same on every call.
var validInputs = newValidCache[*v1beta1.Input]() //nolint:gochecknoglobals // One cache per process, shared by every request.

// parseInputCached decodes and validates the function input, remembering
// valid inputs. Its errors are the call's Fatal result.
func parseInputCached(req *fnv1.RunFunctionRequest) (*v1beta1.Input, error) {
	pb := req.GetInput()
	k := specKey(structpb.NewStructValue(pb))
	if in, ok := validInputs.get(k); ok {
		return in, nil
	}
	in := &v1beta1.Input{}
	// By reflection, not through JSON as request.GetInput does. A bad
	// input is decoded again through JSON, whose error names the field.
	if pb != nil {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(pb.AsMap(), in); err != nil {
			if jerr := request.GetInput(req, &v1beta1.Input{}); jerr != nil {
				err = jerr
			}
			return nil, errors.Wrap(err, errInput)
		}
	}
	if errs := validateInput(in); len(errs) > 0 {
		return nil, errors.Errorf("%s: %s", errInput, fieldErrorsMessage(errs))
	}
	validInputs.put(k, in)
	return in, nil
}
