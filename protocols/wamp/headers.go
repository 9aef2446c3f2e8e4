package wamp

import "github.com/wsgate/wsgate/bridge"

// NATS headers that carry WAMP details to and from workers, beside the
// gateway's Wsgate-* headers. Values are plain strings; ids are decimal.
const (
	// HeaderTopic is a PUBLISH's topic URI (without the realm's prefix).
	// A worker's push to a connection with it is an EVENT of the
	// connection's subscription to that topic.
	HeaderTopic = "Wamp-Topic"
	// HeaderPublication is the publication id the publisher got in
	// PUBLISHED; subscribers see it in EVENT.
	HeaderPublication = "Wamp-Publication"
	// HeaderPublisher, HeaderPublisherAuthid and HeaderPublisherAuthrole
	// identify a publisher that asked for disclose_me.
	HeaderPublisher         = "Wamp-Publisher"
	HeaderPublisherAuthid   = "Wamp-Publisher-Authid"
	HeaderPublisherAuthrole = "Wamp-Publisher-Authrole"
	// HeaderExcludeMe is "false" on a publication the publisher wants to
	// receive itself (exclude_me: false); by default it does not.
	HeaderExcludeMe = "Wamp-Exclude-Me"

	// HeaderProcedure is a CALL's procedure URI (without the prefix).
	HeaderProcedure = "Wamp-Procedure"
	// HeaderCaller, HeaderCallerAuthid and HeaderCallerAuthrole identify
	// a caller that asked for disclose_me.
	HeaderCaller         = "Wamp-Caller"
	HeaderCallerAuthid   = "Wamp-Caller-Authid"
	HeaderCallerAuthrole = "Wamp-Caller-Authrole"
	// HeaderTimeout is the call's timeout in milliseconds: a worker may
	// give up after it, the caller has.
	HeaderTimeout = "Wamp-Timeout"
	// HeaderReceiveProgress is "1" when the caller takes progressive
	// results: the worker may then reply several times to the request's
	// reply subject, each reply but the last with HeaderProgress.
	HeaderReceiveProgress = "Wamp-Receive-Progress"
	// HeaderProgress is "1" on a reply that is a progressive result, not
	// the final one.
	HeaderProgress = "Wamp-Progress"
	// HeaderError on a reply makes it an ERROR with that URI; the body
	// holds its arguments.
	HeaderError = "Wamp-Error"
	// HeaderCallToken is a random token of a CALL, the one its caller's
	// gateway publishes on wamp.wsgate.cancel when the call is cancelled
	// in mode kill or killnowait (cancel.go), with HeaderCancelMode.
	HeaderCallToken  = "Wamp-Call-Token"
	HeaderCancelMode = "Wamp-Cancel-Mode"
)

// identityTrusted reports whether the identity headers of a message
// (Wamp-Publisher, Wamp-Caller and their -Authid and -Authrole) may be
// believed: set by a WAMP session of a gateway, or by a worker (no
// Wsgate-Protocol). A STOMP or MQTT client can put any Wamp-* header on
// what it sends, but not Wsgate-Protocol, which the gateway sets.
func identityTrusted(h bridge.Header) bool {
	p := h.Get(bridge.HeaderProtocol)
	return p == "" || p == Name
}
