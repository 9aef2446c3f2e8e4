package wamp

import (
	"fmt"
)

// Type is a WAMP message type code [WAMP "Message Codes and Direction"].
type Type int

// Message types.
const (
	TypeHello        Type = 1
	TypeWelcome      Type = 2
	TypeAbort        Type = 3
	TypeChallenge    Type = 4
	TypeAuthenticate Type = 5
	TypeGoodbye      Type = 6
	TypeError        Type = 8
	TypePublish      Type = 16
	TypePublished    Type = 17
	TypeSubscribe    Type = 32
	TypeSubscribed   Type = 33
	TypeUnsubscribe  Type = 34
	TypeUnsubscribed Type = 35
	TypeEvent        Type = 36
	TypeCall         Type = 48
	TypeCancel       Type = 49
	TypeResult       Type = 50
	TypeRegister     Type = 64
	TypeRegistered   Type = 65
	TypeUnregister   Type = 66
	TypeUnregistered Type = 67
	TypeInvocation   Type = 68
	TypeInterrupt    Type = 69
	TypeYield        Type = 70
)

var typeNames = map[Type]string{
	TypeHello: "HELLO", TypeWelcome: "WELCOME", TypeAbort: "ABORT", TypeChallenge: "CHALLENGE",
	TypeAuthenticate: "AUTHENTICATE", TypeGoodbye: "GOODBYE", TypeError: "ERROR",
	TypePublish: "PUBLISH", TypePublished: "PUBLISHED", TypeSubscribe: "SUBSCRIBE",
	TypeSubscribed: "SUBSCRIBED", TypeUnsubscribe: "UNSUBSCRIBE", TypeUnsubscribed: "UNSUBSCRIBED",
	TypeEvent: "EVENT", TypeCall: "CALL", TypeCancel: "CANCEL", TypeResult: "RESULT",
	TypeRegister: "REGISTER", TypeRegistered: "REGISTERED", TypeUnregister: "UNREGISTER",
	TypeUnregistered: "UNREGISTERED", TypeInvocation: "INVOCATION", TypeInterrupt: "INTERRUPT",
	TypeYield: "YIELD",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", int(t))
}

// Message is one WAMP message. Each type's doc comment gives its wire
// format, a list whose first element is the type code.
type Message interface {
	Type() Type
	// list is the message as a list of values, ready for a serializer.
	list() []any
}

// Hello opens a session [WAMP "HELLO"]:
//
//	[HELLO, Realm|uri, Details|dict]
type Hello struct {
	Realm   string
	Details Dict
}

// Welcome establishes a session:
//
//	[WELCOME, Session|id, Details|dict]
type Welcome struct {
	Session uint64
	Details Dict
}

// Abort refuses a session before it is established:
//
//	[ABORT, Details|dict, Reason|uri]
type Abort struct {
	Details Dict
	Reason  string
}

// Challenge asks a client to authenticate [WAMP "Authentication"]:
//
//	[CHALLENGE, AuthMethod|string, Extra|dict]
type Challenge struct {
	AuthMethod string
	Extra      Dict
}

// Authenticate answers a challenge:
//
//	[AUTHENTICATE, Signature|string, Extra|dict]
type Authenticate struct {
	Signature string
	Extra     Dict
}

// Goodbye closes an established session; the peer answers with its own:
//
//	[GOODBYE, Details|dict, Reason|uri]
type Goodbye struct {
	Details Dict
	Reason  string
}

// Error answers a request that failed:
//
//	[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri]
//	[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list]
//	[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list, ArgumentsKw|dict]
type Error struct {
	RequestType Type
	Request     uint64
	Details     Dict
	Error       string
	Args        List
	Kwargs      Dict
}

// Publish publishes an event:
//
//	[PUBLISH, Request|id, Options|dict, Topic|uri]
//	[PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list]
//	[PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict]
type Publish struct {
	Request uint64
	Options Dict
	Topic   string
	Args    List
	Kwargs  Dict
}

// Published acknowledges a publish that asked for it:
//
//	[PUBLISHED, PUBLISH.Request|id, Publication|id]
type Published struct {
	Request     uint64
	Publication uint64
}

// Subscribe subscribes to a topic:
//
//	[SUBSCRIBE, Request|id, Options|dict, Topic|uri]
type Subscribe struct {
	Request uint64
	Options Dict
	Topic   string
}

// Subscribed acknowledges a subscription:
//
//	[SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]
type Subscribed struct {
	Request      uint64
	Subscription uint64
}

// Unsubscribe ends a subscription:
//
//	[UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]
type Unsubscribe struct {
	Request      uint64
	Subscription uint64
}

// Unsubscribed acknowledges an unsubscribe:
//
//	[UNSUBSCRIBED, UNSUBSCRIBE.Request|id]
type Unsubscribed struct {
	Request uint64
}

// Event delivers a publication to a subscriber:
//
//	[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict]
//	[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict, PUBLISH.Arguments|list]
//	[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict, PUBLISH.Arguments|list, PUBLISH.ArgumentsKw|dict]
type Event struct {
	Subscription uint64
	Publication  uint64
	Details      Dict
	Args         List
	Kwargs       Dict
}

// Call calls a procedure:
//
//	[CALL, Request|id, Options|dict, Procedure|uri]
//	[CALL, Request|id, Options|dict, Procedure|uri, Arguments|list]
//	[CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict]
type Call struct {
	Request   uint64
	Options   Dict
	Procedure string
	Args      List
	Kwargs    Dict
}

// Cancel cancels a call [WAMP "Call Canceling"]:
//
//	[CANCEL, CALL.Request|id, Options|dict]
type Cancel struct {
	Request uint64
	Options Dict
}

// Result is a call's result, or one of its progressive results:
//
//	[RESULT, CALL.Request|id, Details|dict]
//	[RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list]
//	[RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list, YIELD.ArgumentsKw|dict]
type Result struct {
	Request uint64
	Details Dict
	Args    List
	Kwargs  Dict

	// argsJSON, when set, stands for Args and Kwargs: a non-empty JSON
	// array of arguments passed through verbatim (verbatimArgs), which
	// only the JSON serializer can encode.
	argsJSON rawJSON
}

// Register registers a procedure:
//
//	[REGISTER, Request|id, Options|dict, Procedure|uri]
type Register struct {
	Request   uint64
	Options   Dict
	Procedure string
}

// Registered acknowledges a registration:
//
//	[REGISTERED, REGISTER.Request|id, Registration|id]
type Registered struct {
	Request      uint64
	Registration uint64
}

// Unregister ends a registration:
//
//	[UNREGISTER, Request|id, REGISTERED.Registration|id]
type Unregister struct {
	Request      uint64
	Registration uint64
}

// Unregistered acknowledges an unregister:
//
//	[UNREGISTERED, UNREGISTER.Request|id]
type Unregistered struct {
	Request uint64
}

// Invocation asks a callee to run a call:
//
//	[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict]
//	[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, CALL.Arguments|list]
//	[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, CALL.Arguments|list, CALL.ArgumentsKw|dict]
type Invocation struct {
	Request      uint64
	Registration uint64
	Details      Dict
	Args         List
	Kwargs       Dict
}

// Interrupt tells a callee that an invocation was canceled:
//
//	[INTERRUPT, INVOCATION.Request|id, Options|dict]
type Interrupt struct {
	Request uint64
	Options Dict
}

// Yield is a callee's result, or one of its progressive results:
//
//	[YIELD, INVOCATION.Request|id, Options|dict]
//	[YIELD, INVOCATION.Request|id, Options|dict, Arguments|list]
//	[YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict]
type Yield struct {
	Request uint64
	Options Dict
	Args    List
	Kwargs  Dict
}

func (*Hello) Type() Type        { return TypeHello }
func (*Welcome) Type() Type      { return TypeWelcome }
func (*Abort) Type() Type        { return TypeAbort }
func (*Challenge) Type() Type    { return TypeChallenge }
func (*Authenticate) Type() Type { return TypeAuthenticate }
func (*Goodbye) Type() Type      { return TypeGoodbye }
func (*Error) Type() Type        { return TypeError }
func (*Publish) Type() Type      { return TypePublish }
func (*Published) Type() Type    { return TypePublished }
func (*Subscribe) Type() Type    { return TypeSubscribe }
func (*Subscribed) Type() Type   { return TypeSubscribed }
func (*Unsubscribe) Type() Type  { return TypeUnsubscribe }
func (*Unsubscribed) Type() Type { return TypeUnsubscribed }
func (*Event) Type() Type        { return TypeEvent }
func (*Call) Type() Type         { return TypeCall }
func (*Cancel) Type() Type       { return TypeCancel }
func (*Result) Type() Type       { return TypeResult }
func (*Register) Type() Type     { return TypeRegister }
func (*Registered) Type() Type   { return TypeRegistered }
func (*Unregister) Type() Type   { return TypeUnregister }
func (*Unregistered) Type() Type { return TypeUnregistered }
func (*Invocation) Type() Type   { return TypeInvocation }
func (*Interrupt) Type() Type    { return TypeInterrupt }
func (*Yield) Type() Type        { return TypeYield }

// withPayload appends Arguments and ArgumentsKw, leaving out what is empty
// at the end as the spec asks: "ArgumentsKw [...] MUST be omitted if empty",
// and Arguments too when both are.
func withPayload(l []any, args List, kwargs Dict) []any {
	switch {
	case len(kwargs) > 0:
		if args == nil {
			args = List{}
		}
		return append(l, args, kwargs)
	case len(args) > 0:
		return append(l, args)
	}
	return l
}

func dict(d Dict) Dict {
	if d == nil {
		return Dict{}
	}
	return d
}

func (m *Hello) list() []any   { return []any{int64(TypeHello), m.Realm, dict(m.Details)} }
func (m *Welcome) list() []any { return []any{int64(TypeWelcome), m.Session, dict(m.Details)} }
func (m *Abort) list() []any   { return []any{int64(TypeAbort), dict(m.Details), m.Reason} }
func (m *Challenge) list() []any {
	return []any{int64(TypeChallenge), m.AuthMethod, dict(m.Extra)}
}
func (m *Authenticate) list() []any {
	return []any{int64(TypeAuthenticate), m.Signature, dict(m.Extra)}
}
func (m *Goodbye) list() []any { return []any{int64(TypeGoodbye), dict(m.Details), m.Reason} }
func (m *Error) list() []any {
	return withPayload([]any{int64(TypeError), int64(m.RequestType), m.Request, dict(m.Details), m.Error}, m.Args, m.Kwargs)
}
func (m *Publish) list() []any {
	return withPayload([]any{int64(TypePublish), m.Request, dict(m.Options), m.Topic}, m.Args, m.Kwargs)
}
func (m *Published) list() []any { return []any{int64(TypePublished), m.Request, m.Publication} }
func (m *Subscribe) list() []any {
	return []any{int64(TypeSubscribe), m.Request, dict(m.Options), m.Topic}
}
func (m *Subscribed) list() []any { return []any{int64(TypeSubscribed), m.Request, m.Subscription} }
func (m *Unsubscribe) list() []any {
	return []any{int64(TypeUnsubscribe), m.Request, m.Subscription}
}
func (m *Unsubscribed) list() []any { return []any{int64(TypeUnsubscribed), m.Request} }
func (m *Event) list() []any {
	return withPayload([]any{int64(TypeEvent), m.Subscription, m.Publication, dict(m.Details)}, m.Args, m.Kwargs)
}
func (m *Call) list() []any {
	return withPayload([]any{int64(TypeCall), m.Request, dict(m.Options), m.Procedure}, m.Args, m.Kwargs)
}
func (m *Cancel) list() []any { return []any{int64(TypeCancel), m.Request, dict(m.Options)} }
func (m *Result) list() []any {
	if m.argsJSON != nil {
		return []any{int64(TypeResult), m.Request, dict(m.Details), m.argsJSON}
	}
	return withPayload([]any{int64(TypeResult), m.Request, dict(m.Details)}, m.Args, m.Kwargs)
}
func (m *Register) list() []any {
	return []any{int64(TypeRegister), m.Request, dict(m.Options), m.Procedure}
}
func (m *Registered) list() []any { return []any{int64(TypeRegistered), m.Request, m.Registration} }
func (m *Unregister) list() []any {
	return []any{int64(TypeUnregister), m.Request, m.Registration}
}
func (m *Unregistered) list() []any { return []any{int64(TypeUnregistered), m.Request} }
func (m *Invocation) list() []any {
	return withPayload([]any{int64(TypeInvocation), m.Request, m.Registration, dict(m.Details)}, m.Args, m.Kwargs)
}
func (m *Interrupt) list() []any { return []any{int64(TypeInterrupt), m.Request, dict(m.Options)} }
func (m *Yield) list() []any {
	return withPayload([]any{int64(TypeYield), m.Request, dict(m.Options)}, m.Args, m.Kwargs)
}

// Encode appends m's encoding by ser to b.
func Encode(ser Serializer, b []byte, m Message) ([]byte, error) {
	return ser.Append(b, m.list())
}
