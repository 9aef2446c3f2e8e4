package socketio

import (
	"errors"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/subjects"
)

func TestEventSubject(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		ns, event string
		want      string // "" when refused
	}{
		{"/", "chat", "sio._.chat"},
		{"/shop", "order.create", "sio.shop.order.create"},
		{"/shop/v2", "order", "sio.shop/v2.order"},
		{"/a.b", "x", "sio.a%2Eb.x"},
		{"/*", "x", "sio.%2A.x"},
		{"/>", "x", "sio.%3E.x"},
		{"/", "a*b", "sio._.a%2Ab"},
		{"/", "*", "sio._.%2A"},
		{"/", ">", "sio._.%3E"},
		{"/", "a.>", "sio._.a.%3E"},
		{"/", "a.*.b", "sio._.a.%2A.b"},
		{"/", "with space", "sio._.with%20space"},
		{"/", "tab\there", "sio._.tab%09here"},
		{"/", "nul\x00", "sio._.nul%00"},
		{"/", "bad\xffutf8", "sio._.bad%FFutf8"},
		{"/", "100%", "sio._.100%25"},
		{"/", "héllo", "sio._.héllo"},
		{"/sp ace", "x", "sio.sp%20ace.x"},
		{"/nul\x00", "x", "sio.nul%00.x"},
		{"/", "", ""},
		{"/", ".", ""},
		{"/", "a..b", ""},
		{"/", ".a", ""},
		{"/", "a.", ""},
		{"/", long, ""},
		{"/", strings.Repeat("abcdefgh.", 200), ""},
		{"", "x", ""},
		{"shop", "x", ""},
		{"/_", "x", ""},
		{"/" + long, "x", ""},
	} {
		t.Run(tc.ns+" "+tc.event, func(t *testing.T) {
			got, err := func() (string, error) {
				tok, err := namespaceToken(tc.ns)
				if err != nil {
					return "", err
				}
				return eventSubject("sio", tok, tc.event)
			}()
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrInvalidName) {
					t.Fatalf("got %q, %v; want ErrInvalidName", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if err := subjects.ValidateSubject(got); err != nil {
				t.Fatal(err)
			}
			// Never widened: as many tokens as the namespace and the
			// event's components, and no wildcard.
			if n := strings.Count(got, ".") + 1; n != 2+strings.Count(tc.event, ".")+1 {
				t.Fatalf("%q has %d tokens", got, n)
			}
		})
	}
}

func TestRoomSubject(t *testing.T) {
	for _, tc := range []struct{ ns, room, want string }{
		{"/", "r1", "sio-room._.r1"},
		{"/shop", "a.b", "sio-room.shop.a%2Eb"},
		{"/shop", "*", "sio-room.shop.%2A"},
		{"/shop", ">", "sio-room.shop.%3E"},
		{"/shop", "a b", "sio-room.shop.a%20b"},
		{"/shop", "\x00", "sio-room.shop.%00"},
		{"/shop", "\xfe", "sio-room.shop.%FE"},
		{"/shop", "", ""},
		{"/shop", strings.Repeat("r", 257), ""},
	} {
		tok, err := namespaceToken(tc.ns)
		if err != nil {
			t.Fatal(err)
		}
		got, err := roomSubject("sio-room", tok, tc.room)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("%q: got %q, %v; want ErrInvalidName", tc.room, got, err)
			}
			continue
		}
		if err != nil || got != tc.want || strings.Count(got, ".") != 2 {
			t.Errorf("%q: got %q, %v; want %q", tc.room, got, err, tc.want)
		}
	}
}

// FuzzNames checks that no namespace, event or room name widens its
// subject: every accepted one is a valid literal subject with one token
// per name component.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"/", "/shop", "a.b", "*", ">", " ", "\x00", "\xff", "a..b", "/_"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, ns, name string) {
		tok, err := namespaceToken(ns)
		if err != nil {
			return
		}
		if strings.ContainsAny(tok, ".*> ") {
			t.Fatalf("namespace token %q", tok)
		}
		if s, err := eventSubject("sio", tok, name); err == nil {
			if subjects.ValidateSubject(s) != nil || strings.Count(s, ".") != 2+strings.Count(name, ".") {
				t.Fatalf("event %q: %q", name, s)
			}
		}
		if s, err := roomSubject("sio-room", tok, name); err == nil {
			if subjects.ValidateSubject(s) != nil || strings.Count(s, ".") != 2 {
				t.Fatalf("room %q: %q", name, s)
			}
		}
	})
}
