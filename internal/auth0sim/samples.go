package auth0sim

import (
	"encoding/json"
	"strings"
)

// sampleUser is the user Auth0 puts into test events (recorded).
const sampleUser = `{"user_id":"auth0|507f1f77bcf86cd799439020","email":"john.doe@gmail.com","email_verified":false,"username":"johndoe","phone_number":"+15555555555","phone_verified":false,"created_at":"2025-02-01T12:34:56Z","updated_at":"2025-02-01T12:34:56Z","identities":[{"provider":"auth0","isSocial":false,"connection":"Username-Password-Authentication","user_id":"507f1f77bcf86cd799439020","profileData":{"email":"john.doe@gmail.com","email_verified":false,"name":"John Doe","username":"johndoe","given_name":"John","family_name":"Doe","phone_number":"+15555555555","phone_verified":false}}],"app_metadata":{"plan":"pro"},"user_metadata":{"hobby":"skydiving"},"picture":"https://secure.gravatar.com/avatar/15626c5e0c749cb912f9d1ad48dba440?s=480&r=pg&d=https%3A%2F%2Fssl.gstatic.com%2Fs2%2Fprofiles%2Fimages%2Fsilhouette80.png","name":"John Doe","nickname":"John Doe","multifactor":["sample"],"last_ip":"10.0.0.1","last_login":"2025-02-01T12:34:56Z","logins_count":42,"blocked":false,"given_name":"John","family_name":"Doe"}`

// Samples for other types are the simulator's own: no recording shows them.
const (
	sampleOrganization = `{"id":"org_sampleorganization01","name":"acme","display_name":"Acme Inc."}`
	sampleGroup        = `{"id":"grp_samplegroup000000001","name":"engineering"}`
)

// sampleData is the data of a test event of type t.
func sampleData(t string) json.RawMessage {
	obj := sampleUser
	switch {
	case strings.HasPrefix(t, "organization.member."):
		obj = `{"organization":` + sampleOrganization + `,"user":{"user_id":"auth0|507f1f77bcf86cd799439020"}}`
	case strings.HasPrefix(t, "organization.connection."):
		obj = `{"organization":` + sampleOrganization + `,"connection":{"id":"con_sampleconnection001","name":"Username-Password-Authentication"}}`
	case strings.HasPrefix(t, "organization."):
		obj = sampleOrganization
	case strings.HasPrefix(t, "group.member."):
		obj = `{"group":` + sampleGroup + `,"user":{"user_id":"auth0|507f1f77bcf86cd799439020"}}`
	case strings.HasPrefix(t, "group."):
		obj = sampleGroup
	}
	return json.RawMessage(`{"object":` + obj + `}`)
}

// historyData is event data as the delivery history shows it: recorded
// traffic shows it without the user's multifactor list and with identities
// reduced to provider, connection and user_id.
func historyData(raw json.RawMessage) json.RawMessage {
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return raw
	}
	obj, ok := data["object"].(map[string]any)
	if !ok {
		return raw
	}
	delete(obj, "multifactor")
	if ids, ok := obj["identities"].([]any); ok {
		for _, id := range ids {
			if m, ok := id.(map[string]any); ok {
				delete(m, "isSocial")
				delete(m, "profileData")
			}
		}
	}
	out, err := json.Marshal(data)
	if err != nil {
		return raw
	}
	return out
}
