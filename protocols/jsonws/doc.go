// Package jsonws is wsgate's raw JSON protocol: plain WebSocket messages,
// routed the way a managed WebSocket API gateway routes them.
//
// A route selection expression (default $request.body.action) picks a route
// key from each JSON message; the route's integration publishes it to a NATS
// subject, requests on a subject and sends the reply back (a two-way route),
// POSTs it to an HTTP endpoint, or subscribes or unsubscribes the connection.
// $connect runs during the upgrade and may refuse it; $disconnect runs when
// the connection ends; $default takes what no route matches, non-JSON
// included. Without configured routes, built-in routes let a client
// subscribe, unsubscribe, publish and request on any subject it may use.
//
// An http integration (http.go, httpconfig.go, httptmpl.go) calls its
// endpoint with any method, a URL, query and headers rendered from the
// message with each value escaped for its place, and maps the answer's
// status to a reply or an error frame. Conditions and transforms are jq
// (jq.go, transform.go): when and targets choose an integration by
// content, request_transform and response_transform reshape what a route
// sends and answers, and transform what a subscription delivers. Request
// and http routes may cache replies (cache.go). Route keys may come from
// the upgrade request as well as the message (selection.go).
//
// What the gateway sends to a client is a JSON envelope (see envelope.go)
// unless a route asks for the raw payload.
package jsonws
