package v1alpha1

// Labels the provider and the composition function agree on.
const (
	// LabelWebhookSecret, with value "true", is the opt-in a Secret must
	// carry to be read as a stream's webhook authorization secret
	// (tokenSecretRef, passwordSecretRef, headerValueSecretRef): a Secret
	// is offered for that use by whoever may label it, never taken because
	// a resource names it.
	LabelWebhookSecret = "auth0.m.openmcf.org/webhook-secret"

	// LabelStreamID names the Auth0 stream id a composed resource holds
	// (an EventStream the provider owns, a Workspace the function
	// composes). Anyone who may label the resource can write it, so it is
	// a hint used only to refuse (another resource already holds the id),
	// never to grant anything.
	LabelStreamID = "auth0.openmcf.org/stream-id"
)
