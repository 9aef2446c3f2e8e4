package wamp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// registrations keeps the procedures registered in this process and, for
// invoke single, their claims in a JetStream key-value bucket shared by
// every gateway: "first registration wins" cluster-wide. A claim is
// created with Create (which fails if the key exists), renewed every
// third of the bucket's TTL while held, deleted on UNREGISTER or when its
// callee leaves, and expires with the TTL if its gateway stops without
// deleting it. Without JetStream, single registrations are exclusive
// within the gateway only (logged once).
type registrations struct {
	p *Protocol

	mu     sync.Mutex
	local  map[string]*procedure // by subject
	kv     *bridge.KV
	retry  time.Time     // no bucket: try again after
	renew  chan struct{} // closed to stop the renewer; nil when none runs
	claims int           // claims held, renewed while > 0
}

// procedure is a subject registered by local sessions.
type procedure struct {
	policy string
	count  int
	key    string // the claim's key, for single
	holder []byte // the claim's value: the connection id of its callee
	rev    uint64 // the claim's revision; 0: not claimed in the bucket
}

func (r *registrations) init(p *Protocol) {
	r.p = p
	r.local = map[string]*procedure{}
}

// claimKey is the bucket key of a subject: base64url, as keys allow only
// [-/_=.a-zA-Z0-9].
func claimKey(subject string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(subject))
}

// acquire registers subject for a local session with policy. On refusal it
// returns the error URI and why.
func (r *registrations) acquire(s *bridge.Session, subject, policy string) (string, error) {
	r.mu.Lock()
	if e := r.local[subject]; e != nil {
		defer r.mu.Unlock()
		switch {
		case e.policy == invokeSingle && policy == invokeSingle:
			return errProcedureExists, fmt.Errorf("procedure already registered")
		case e.policy != policy:
			return errDifferentPolicy, fmt.Errorf("procedure registered with invoke %s", e.policy)
		}
		e.count++
		return "", nil
	}
	e := &procedure{policy: policy, count: 1, key: claimKey(subject), holder: []byte(s.ID())}
	r.local[subject] = e // reserved while the bucket is asked
	kv := r.bucket(s)
	r.mu.Unlock()

	var err error
	if kv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if policy == invokeSingle {
			e.rev, err = kv.Create(ctx, e.key, e.holder)
		} else {
			// A shared registration may not join a procedure another
			// gateway holds singly.
			if _, _, gerr := kv.Get(ctx, e.key); gerr == nil {
				err = bridge.ErrKeyExists
			}
		}
		cancel()
	}
	if errors.Is(err, bridge.ErrKeyExists) {
		r.drop(subject, e)
		return errProcedureExists, fmt.Errorf("procedure already registered on another gateway")
	}
	if err != nil {
		s.Logger().Warn("wamp registration claim failed; the registration is exclusive on this gateway only", "err", err)
	}
	if e.rev != 0 {
		r.mu.Lock()
		r.claims++
		if r.renew == nil {
			r.renew = make(chan struct{})
			go r.renewer(kv, r.renew)
		}
		r.mu.Unlock()
	}
	return "", nil
}

// drop forgets an entry whose acquisition failed.
func (r *registrations) drop(subject string, e *procedure) {
	r.mu.Lock()
	if r.local[subject] == e {
		delete(r.local, subject)
	}
	r.mu.Unlock()
}

// release ends one local registration of subject; the last one gives up
// the claim.
func (r *registrations) release(subject string) {
	r.mu.Lock()
	e := r.local[subject]
	if e == nil {
		r.mu.Unlock()
		return
	}
	if e.count--; e.count > 0 {
		r.mu.Unlock()
		return
	}
	delete(r.local, subject)
	kv, rev := r.kv, e.rev
	if rev != 0 {
		if r.claims--; r.claims == 0 && r.renew != nil {
			close(r.renew)
			r.renew = nil
		}
	}
	r.mu.Unlock()
	if kv != nil && rev != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		// Conditional: a claim renewed since has a newer revision, which
		// the renewer recorded; a claim taken over is left alone.
		if err := kv.DeleteIf(ctx, e.key, e.rev); errors.Is(err, bridge.ErrWrongRev) {
			r.mu.Lock()
			rev := e.rev
			r.mu.Unlock()
			_ = kv.DeleteIf(ctx, e.key, rev)
		}
	}
}

// bucket opens the claims bucket once, retrying at most every 10 s after
// a failure (an external NATS without JetStream). Called with mu held.
func (r *registrations) bucket(s *bridge.Session) *bridge.KV {
	if r.kv != nil || time.Now().Before(r.retry) {
		return r.kv
	}
	js := s.JetStream()
	if js == nil {
		r.retry = time.Now().Add(10 * time.Second)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	kv, err := js.KV(ctx, r.p.cfg.RegistrationsBucket, bridge.KVConfig{TTL: r.p.cfg.RegistrationTTL})
	if err != nil {
		s.Logger().Warn("wamp registrations bucket unavailable: single registrations are exclusive per gateway only",
			"bucket", r.p.cfg.RegistrationsBucket, "err", err)
		r.retry = time.Now().Add(10 * time.Second)
		return nil
	}
	r.kv = kv
	return kv
}

// renewer rewrites every claim this process holds every third of the TTL,
// so that the bucket keeps them, until stop is closed.
func (r *registrations) renewer(kv *bridge.KV, stop chan struct{}) {
	t := time.NewTicker(r.p.cfg.RegistrationTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		var held []*procedure
		for _, e := range r.local {
			if e.rev != 0 {
				held = append(held, e)
			}
		}
		r.mu.Unlock()
		for _, e := range held {
			r.mu.Lock()
			key, rev := e.key, e.rev
			r.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			n, err := kv.Update(ctx, key, e.holder, rev)
			cancel()
			if err == nil {
				r.mu.Lock()
				e.rev = n
				r.mu.Unlock()
			}
		}
	}
}
