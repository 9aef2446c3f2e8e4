package wamp

import (
	"fmt"
)

// Decode decodes one WebSocket message into a WAMP message. Every field is
// checked for its type, and ids for their range [1, 2^53]; an error wraps
// ErrMalformed, ErrTooLarge or ErrTooDeep. A message of an unknown type is
// an error too.
func Decode(ser Serializer, b []byte, l Limits) (Message, error) {
	v, err := ser.Decode(b, l)
	if err != nil {
		return nil, err
	}
	return parse(v)
}

// fields reads the elements of one message in order.
type fields struct {
	v   []any
	i   int
	t   Type
	err error
}

func (f *fields) fail(what string) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: %s: element %d is not %s", ErrMalformed, f.t, f.i, what)
	}
}

func (f *fields) next(what string) (any, bool) {
	if f.err != nil {
		return nil, false
	}
	if f.i >= len(f.v) {
		f.err = fmt.Errorf("%w: %s: %d elements, %s missing", ErrMalformed, f.t, len(f.v), what)
		return nil, false
	}
	v := f.v[f.i]
	f.i++
	return v, true
}

func (f *fields) id() uint64 {
	v, ok := f.next("an id")
	if !ok {
		return 0
	}
	id, ok := asID(v)
	if !ok {
		f.i--
		f.fail("an id in [1, 2^53]")
		f.i++
	}
	return id
}

func (f *fields) dict() Dict {
	v, ok := f.next("a dict")
	if !ok {
		return nil
	}
	d, ok := v.(map[string]any)
	if !ok {
		f.i--
		f.fail("a dict")
		f.i++
	}
	return d
}

func (f *fields) str(what string) string {
	v, ok := f.next(what)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.i--
		f.fail(what)
		f.i++
	}
	return s
}

// payload reads the optional Arguments and ArgumentsKw at the end.
func (f *fields) payload() (List, Dict) {
	var args List
	var kwargs Dict
	if f.err == nil && f.i < len(f.v) {
		a, ok := f.v[f.i].([]any)
		if !ok {
			f.fail("a list")
			return nil, nil
		}
		args = a
		f.i++
	}
	if f.err == nil && f.i < len(f.v) {
		kwargs = f.dict()
	}
	return args, kwargs
}

// end checks that nothing is left.
func (f *fields) end() error {
	if f.err == nil && f.i != len(f.v) {
		f.err = fmt.Errorf("%w: %s: %d elements, at most %d expected", ErrMalformed, f.t, len(f.v), f.i)
	}
	return f.err
}

func parse(v []any) (Message, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrMalformed)
	}
	code, ok := asInt(v[0])
	if !ok || code > 1000 {
		return nil, fmt.Errorf("%w: message type is not a small integer", ErrMalformed)
	}
	f := &fields{v: v, i: 1, t: Type(code)}
	var m Message
	switch f.t {
	case TypeHello:
		m = &Hello{Realm: f.str("a realm URI"), Details: f.dict()}
	case TypeWelcome:
		m = &Welcome{Session: f.id(), Details: f.dict()}
	case TypeAbort:
		m = &Abort{Details: f.dict(), Reason: f.str("a reason URI")}
	case TypeChallenge:
		m = &Challenge{AuthMethod: f.str("an auth method"), Extra: f.dict()}
	case TypeAuthenticate:
		m = &Authenticate{Signature: f.str("a signature"), Extra: f.dict()}
	case TypeGoodbye:
		m = &Goodbye{Details: f.dict(), Reason: f.str("a reason URI")}
	case TypeError:
		e := &Error{}
		rt, ok := f.next("a request type")
		if ok {
			n, isInt := asInt(rt)
			if !isInt || n > 1000 {
				f.i--
				f.fail("a request type")
				f.i++
			}
			e.RequestType = Type(n)
		}
		e.Request, e.Details, e.Error = f.id(), f.dict(), f.str("an error URI")
		e.Args, e.Kwargs = f.payload()
		m = e
	case TypePublish:
		p := &Publish{Request: f.id(), Options: f.dict(), Topic: f.str("a topic URI")}
		p.Args, p.Kwargs = f.payload()
		m = p
	case TypePublished:
		m = &Published{Request: f.id(), Publication: f.id()}
	case TypeSubscribe:
		m = &Subscribe{Request: f.id(), Options: f.dict(), Topic: f.str("a topic URI")}
	case TypeSubscribed:
		m = &Subscribed{Request: f.id(), Subscription: f.id()}
	case TypeUnsubscribe:
		m = &Unsubscribe{Request: f.id(), Subscription: f.id()}
	case TypeUnsubscribed:
		m = &Unsubscribed{Request: f.id()}
	case TypeEvent:
		e := &Event{Subscription: f.id(), Publication: f.id(), Details: f.dict()}
		e.Args, e.Kwargs = f.payload()
		m = e
	case TypeCall:
		c := &Call{Request: f.id(), Options: f.dict(), Procedure: f.str("a procedure URI")}
		c.Args, c.Kwargs = f.payload()
		m = c
	case TypeCancel:
		m = &Cancel{Request: f.id(), Options: f.dict()}
	case TypeResult:
		r := &Result{Request: f.id(), Details: f.dict()}
		r.Args, r.Kwargs = f.payload()
		m = r
	case TypeRegister:
		m = &Register{Request: f.id(), Options: f.dict(), Procedure: f.str("a procedure URI")}
	case TypeRegistered:
		m = &Registered{Request: f.id(), Registration: f.id()}
	case TypeUnregister:
		m = &Unregister{Request: f.id(), Registration: f.id()}
	case TypeUnregistered:
		m = &Unregistered{Request: f.id()}
	case TypeInvocation:
		i := &Invocation{Request: f.id(), Registration: f.id(), Details: f.dict()}
		i.Args, i.Kwargs = f.payload()
		m = i
	case TypeInterrupt:
		m = &Interrupt{Request: f.id(), Options: f.dict()}
	case TypeYield:
		y := &Yield{Request: f.id(), Options: f.dict()}
		y.Args, y.Kwargs = f.payload()
		m = y
	default:
		return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformed, code)
	}
	if err := f.end(); err != nil {
		return nil, err
	}
	return m, nil
}
