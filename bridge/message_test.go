package bridge

import (
	"errors"
	"testing"
)

func TestDeliveryFrameCache(t *testing.T) {
	d := &Delivery{Msg: &Message{Subject: "a.b", Data: []byte("x")}}
	calls := map[string]int{}
	enc := func(name string) func(*Message) (*Frame, error) {
		return func(m *Message) (*Frame, error) {
			calls[name]++
			return TextFrame([]byte(name + ":" + string(m.Data))), nil
		}
	}
	keyA, keyB := new(int), new(int)
	var first *Frame
	for i := range 5 {
		f, err := d.Frame(keyA, enc("a"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = f
		} else if f != first {
			t.Fatal("a cached key returned a different frame")
		}
	}
	fb, _ := d.Frame(keyB, enc("b"))
	if fb == first || string(fb.Payload()) != "b:x" {
		t.Errorf("key b frame = %q", fb.Payload())
	}
	// A string key and a pointer key are different keys.
	fs, _ := d.Frame("a", enc("s"))
	if string(fs.Payload()) != "s:x" {
		t.Errorf("string key frame = %q", fs.Payload())
	}
	// The first encoder registered for a key wins, whoever asks later.
	if f, _ := d.Frame(keyA, enc("other")); f != first {
		t.Error("a second encoder for key a was used")
	}
	if calls["a"] != 1 || calls["b"] != 1 || calls["s"] != 1 || calls["other"] != 0 {
		t.Errorf("encoder calls = %v, want one each", calls)
	}

	// Errors are cached too.
	boom := errors.New("boom")
	failing := 0
	keyE := new(int)
	for range 3 {
		f, err := d.Frame(keyE, func(*Message) (*Frame, error) { failing++; return nil, boom })
		if f != nil || !errors.Is(err, boom) {
			t.Fatalf("Frame = %v, %v; want nil, boom", f, err)
		}
	}
	if failing != 1 {
		t.Errorf("failing encoder called %d times, want 1", failing)
	}
}
