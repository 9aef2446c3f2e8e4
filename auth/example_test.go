package auth_test

import (
	"context"
	"fmt"

	"github.com/wsgate/wsgate/auth"
)

func ExampleHashKey() {
	// The gateway stores only the hash; the device keeps the key.
	fmt.Println(auth.HashKey("wsk_3q2Z7f0mB9xYt8KpR4vN1cLsD6hJ5gWa"))
	// Output: sha256:2569e4880224a577bb23e74733b2729f5900a4bbd8a42a0d8f66caebf9fc24aa
}

func ExampleNew() {
	c := auth.Config{
		Authenticators: []auth.AuthenticatorConfig{{
			Type: auth.TypeAPIKeys,
			APIKeys: &auth.APIKeysConfig{Keys: []auth.APIKey{{
				ID:   "sensor-42",
				Hash: auth.HashKey("wsk_3q2Z7f0mB9xYt8KpR4vN1cLsD6hJ5gWa"),
			}}},
		}},
		DefaultPermissions: &auth.Permissions{
			Publish: auth.Rules{Allow: []string{"devices.{principal}.>"}},
		},
	}
	a, err := auth.New(c, auth.Deps{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// An MQTT client sends the key id as username and the key as password.
	p, err := a.Authenticate(context.Background(), &auth.Credentials{
		Username: "sensor-42", Password: "wsk_3q2Z7f0mB9xYt8KpR4vN1cLsD6hJ5gWa",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.ID, p.Permissions.Publish.Allow, p.Permissions.CanPublish("devices.sensor-42.temp"), p.Permissions.CanPublish("devices.other.temp"))

	_, err = a.Authenticate(context.Background(), &auth.Credentials{Username: "sensor-42", Password: "guess"})
	fmt.Println(err)
	// Output:
	// sensor-42 [devices.sensor-42.>] true false
	// api_keys: auth: denied: api key "sensor-42": wrong key
}

func ExampleConfig_Validate() {
	c := auth.Config{Authenticators: []auth.AuthenticatorConfig{
		{Type: auth.TypeJWT, JWT: &auth.JWTConfig{JWTIssuer: auth.JWTIssuer{JWKSURL: "http://id.example.com/jwks.json"}}},
	}}
	fmt.Println(c.Validate())
	// Output:
	// auth.authenticators[0].jwt.issuer: required: the exact iss of the tokens to accept
	// auth.authenticators[0].jwt.jwks_url: http:// lets anyone on the path replace the keys: use https, or set insecure_jwks_over_http
}
