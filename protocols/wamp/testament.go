package wamp

import (
	"fmt"
	"strconv"

	"github.com/wsgate/wsgate/bridge"
)

// Testaments [WAMP "Testament Meta API"]: events a session leaves to be
// published when it ends. They are the WAMP counterpart of MQTT wills and
// work as the gateway's immediate wills do: kept with the connection,
// published by the gateway when it closes — whichever way it closes, a
// GOODBYE included, as the spec's "destroyed" scope says (call
// wamp.session.flush_testaments first to leave without them) — with the
// session's own publish permission, checked when the testament is added and
// again when it is published. A gateway that is killed loses them, as it
// loses MQTT wills (README, Limits). There is no session resumption, so the
// "detached" scope is the same as "destroyed".
const (
	metaAddTestament    = "wamp.session.add_testament"
	metaFlushTestaments = "wamp.session.flush_testaments"

	// maxTestaments bounds what one session may leave.
	maxTestaments = 16
)

// testament is one event to publish when the session ends.
type testament struct {
	topic   string
	subject string
	body    []byte
}

// addTestament answers wamp.session.add_testament(topic, args, kwargs).
func (c *conn) addTestament(m *Call) error {
	if len(m.Args) < 1 {
		return fmt.Errorf("%w: add_testament takes a topic, arguments and keyword arguments", errInvalidArgument)
	}
	topic, ok := m.Args[0].(string)
	if !ok {
		return fmt.Errorf("%w: the topic is not a string", errInvalidArgument)
	}
	if isWAMPURI(topic) {
		return fmt.Errorf("%w: %q is reserved for WAMP itself", errInvalidURI, short(topic))
	}
	subject, err := uriSubject(c.prefix, topic)
	if err != nil {
		return err
	}
	if err := c.s.CheckPublish(subject); err != nil {
		return err
	}
	var args List
	var kwargs Dict
	if len(m.Args) > 1 && m.Args[1] != nil {
		if args, ok = m.Args[1].([]any); !ok {
			return fmt.Errorf("%w: the testament's arguments are not a list", errInvalidArgument)
		}
	}
	if len(m.Args) > 2 && m.Args[2] != nil {
		if kwargs, ok = m.Args[2].(Dict); !ok {
			return fmt.Errorf("%w: the testament's keyword arguments are not a dictionary", errInvalidArgument)
		}
	}
	body, err := encodeBody(args, kwargs)
	if err != nil {
		return fmt.Errorf("%w: %w", errInvalidArgument, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.testaments) >= maxTestaments {
		return fmt.Errorf("%w: at most %d testaments per session", bridge.ErrLimit, maxTestaments)
	}
	c.testaments = append(c.testaments, testament{topic: topic, subject: subject, body: body})
	return nil
}

// flushTestaments answers wamp.session.flush_testaments: it drops them
// and says how many there were.
func (c *conn) flushTestaments() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.testaments)
	c.testaments = nil
	return int64(n)
}

// publishTestaments publishes what the session left, once, when it ends.
func (c *conn) publishTestaments() {
	c.mu.Lock()
	ts := c.testaments
	c.testaments = nil
	c.mu.Unlock()
	for _, t := range ts {
		hdr := bridge.Header{
			HeaderTopic:       {t.topic},
			HeaderPublication: {strconv.FormatUint(newID(), 10)},
		}
		if err := c.s.Publish(t.subject, "", hdr, t.body); err != nil {
			c.s.Logger().Info("wamp testament not published", "topic", t.topic, "err", err)
		}
	}
}
