package mqtt

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type wireCase struct {
	version byte
	b       []byte
}

func loadWire(t testing.TB) []wireCase {
	t.Helper()
	f, err := os.Open("testdata/packets.hex")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []wireCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		v, rest, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := hex.DecodeString(strings.ReplaceAll(rest, " ", ""))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, wireCase{byte(n), b})
	}
	return out
}

func TestDecodeWire(t *testing.T) {
	for i, c := range loadWire(t) {
		p, n, err := Decode(c.b, c.version, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("case %d (% x): %v", i, c.b, err)
			}
			continue
		}
		if n != len(c.b) {
			t.Errorf("case %d: used %d of %d bytes", i, n, len(c.b))
		}
		v := c.version
		if p.Type == CONNECT {
			v = p.Connect.Level
		}
		// Re-encoding gives the same bytes.
		if got := p.Encode(nil, v); !bytes.Equal(got, c.b) {
			t.Errorf("case %d: re-encoded\n% x\nwant\n% x", i, got, c.b)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	full := Properties{ContentType: "text/plain", ResponseTopic: "r/t", CorrelationData: []byte{1, 2},
		User: []UserProperty{{"k", "v"}, {"k", "w"}}, SubscriptionIDs: []uint32{1, 300000}}
	full.setByte(propPayloadFormat, 1)
	full.setU32(propMessageExpiry, 60)
	full.setU16(propTopicAlias, 3)
	ack := Properties{ReasonString: "no"}
	ca := Properties{AssignedClientID: "x", ReasonString: "r"}
	ca.setU16(propServerKeepAlive, 30)
	ca.setU16(propReceiveMaximum, 10)
	ca.setU32(propMaximumPacketSize, 1000)
	ca.setByte(propSharedAvailable, 1)
	for _, tc := range []struct {
		name string
		v    byte
		p    Packet
	}{
		{"connect4", 0, Packet{Type: CONNECT, Connect: &Connect{ProtocolName: "MQTT", Level: V311, CleanStart: true, KeepAlive: 5, ClientID: "id",
			Will: &Will{Topic: "w", Payload: []byte("x"), QoS: 2}, Username: "u", HasUsername: true, Password: []byte("p"), HasPassword: true}}},
		{"connect5", 0, Packet{Type: CONNECT, Props: ca2(), Connect: &Connect{ProtocolName: "MQTT", Level: V5, ClientID: "",
			Will: &Will{Topic: "w", Payload: []byte{}, Props: willProps()}}}},
		{"publish5", V5, Packet{Type: PUBLISH, Flags: 0xd, QoS: 2, Dup: true, Retain: true, ID: 7, Topic: "a/b", Payload: []byte("x"), Props: full}},
		{"publish4", V311, Packet{Type: PUBLISH, Flags: 0x2, QoS: 1, ID: 65535, Topic: "a", Payload: []byte{}}},
		{"puback5", V5, Packet{Type: PUBACK, ID: 1, Reason: 0x87, Props: ack}},
		{"pubrec5", V5, Packet{Type: PUBREC, ID: 2, Reason: 0x10}},
		{"pubrel4", V311, Packet{Type: PUBREL, Flags: 2, ID: 3}},
		{"connack5", V5, Packet{Type: CONNACK, SessionPresent: true, Reason: 0, Props: ca}},
		{"connack4", V311, Packet{Type: CONNACK, Reason: 5}},
		{"subscribe5", V5, Packet{Type: SUBSCRIBE, Flags: 2, ID: 9, Filters: []Filter{{Filter: "a/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}, {Filter: "b"}}}},
		{"suback5", V5, Packet{Type: SUBACK, ID: 9, Reasons: []byte{0, 1, 0x87}}},
		{"suback4", V311, Packet{Type: SUBACK, ID: 9, Reasons: []byte{0, 0x80}}},
		{"unsubscribe4", V311, Packet{Type: UNSUBSCRIBE, Flags: 2, ID: 4, Filters: []Filter{{Filter: "a"}}}},
		{"unsuback5", V5, Packet{Type: UNSUBACK, ID: 4, Reasons: []byte{0x11}}},
		{"unsuback4", V311, Packet{Type: UNSUBACK, ID: 4}},
		{"disconnect5", V5, Packet{Type: DISCONNECT, Reason: 0x8e, Props: ack}},
		{"pingresp", V311, Packet{Type: PINGRESP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if tc.p.Type == CONNECT {
				v = tc.p.Connect.Level
			}
			b := tc.p.Encode(nil, v)
			got, n, err := Decode(append(b, 0xff), tc.v, 0)
			if err != nil || n != len(b) {
				t.Fatalf("Decode(% x) = %v, %d, %v", b, got, n, err)
			}
			if !reflect.DeepEqual(*got, tc.p) {
				t.Fatalf("round trip\n got %+v\nwant %+v", *got, tc.p)
			}
			if tc.p.Connect != nil && !reflect.DeepEqual(got.Connect, tc.p.Connect) {
				t.Fatalf("connect\n got %+v\nwant %+v", *got.Connect, *tc.p.Connect)
			}
		})
	}
}

func ca2() Properties {
	var p Properties
	p.setU32(propSessionExpiry, 10)
	p.setU16(propReceiveMaximum, 5)
	p.setU16(propTopicAliasMaximum, 8)
	p.User = []UserProperty{{"a", "b"}}
	return p
}

func willProps() Properties {
	var p Properties
	p.setU32(propWillDelay, 3)
	p.ContentType = "c"
	return p
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version byte
		hex     string
		err     error
	}{
		{"first not connect", 0, "c000", ErrProtocol},
		{"varint 5 bytes", V311, "30ffffffff7f", ErrMalformed},
		{"varint non-minimal", V311, "308000", ErrMalformed},
		{"too large", V311, "30ffff7f", ErrTooLarge},
		{"qos3", V311, "3605000161686", nil},
		{"publish id 0", V311, "320500016100006869", ErrMalformed},
		{"topic bad utf8", V311, "30040002c328", ErrMalformed},
		{"topic nul", V311, "3004000261" + "00", ErrMalformed},
		{"pingreq flags", V311, "c100", ErrMalformed},
		{"subscribe no filters", V311, "82020001", ErrProtocol},
		{"subscribe v3 options", V311, "820600010001610" + "4", ErrMalformed},
		{"subscribe retain handling 3", V5, "8207000100000161" + "30", ErrMalformed},
		{"property not allowed", V5, "3008000161" + "0224" + "01" + "6869", ErrMalformed},
		{"property twice", V5, "3008000161" + "04" + "0101" + "0101", ErrMalformed},
		{"property overrun", V5, "3006000161" + "05" + "0101", ErrMalformed},
		{"trailing bytes", V311, "4003000101", ErrMalformed},
		{"connect reserved flag", 0, "100c00044d5154540401003c0000", ErrMalformed},
		{"connect password no user (3.1.1)", 0, "100e00044d5154540442003c00000000", ErrMalformed},
		{"reserved type", V311, "0000", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.hex)
			if err != nil {
				if tc.err == nil {
					return
				}
				t.Fatal(err)
			}
			_, _, err = Decode(b, tc.version, 64)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Decode(%s) = %v, want %v", tc.hex, err, tc.err)
			}
		})
	}
	var uv *UnsupportedVersionError
	if _, _, err := Decode([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 60, 0, 0}, 0, 0); !errors.As(err, &uv) {
		t.Fatalf("level 6: %v", err)
	}
}

// TestDecodeSplit feeds every packet of the table one byte at a time and in
// two halves: Decode reports incomplete until the last byte.
func TestDecodeSplit(t *testing.T) {
	var all []byte
	var version byte
	for _, c := range loadWire(t) {
		if c.version == V311 {
			if _, _, err := Decode(c.b, V311, 0); err == nil {
				all = append(all, c.b...)
			}
		}
	}
	version = V311
	for step := 1; step <= 7; step++ {
		var buf []byte
		count := 0
		for i := 0; i < len(all); i += step {
			buf = append(buf, all[i:min(i+step, len(all))]...)
			for {
				_, n, err := Decode(buf, version, 0)
				if errors.Is(err, errIncomplete) {
					break
				}
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				buf = buf[n:]
				count++
			}
		}
		if len(buf) != 0 || count == 0 {
			t.Fatalf("step %d: %d bytes left, %d packets", step, len(buf), count)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range loadWire(f) {
		f.Add(c.version, c.b)
	}
	f.Fuzz(func(t *testing.T, version byte, b []byte) {
		version = []byte{0, V31, V311, V5}[version%4]
		p, n, err := Decode(b, version, 4096)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("used %d of %d bytes", n, len(b))
		}
		v := version
		if p.Type == CONNECT {
			v = p.Connect.Level
		}
		// What decodes re-encodes and decodes to the same packet, and
		// encoding appends.
		enc := p.Encode(nil, v)
		if pre := p.Encode([]byte("pre"), v); string(pre) != "pre"+string(enc) {
			t.Fatalf("appended to a prefix: % x, want pre and % x", pre, enc)
		}
		again, _, err := Decode(enc, version, 0)
		if err != nil {
			t.Fatalf("re-decode of % x: %v", b[:n], err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("re-decoded\n%+v\nwant\n%+v", again, p)
		}
	})
}

// TestEncodeLengths: a PUBLISH encodes, after a prefix, with each size of
// remaining length (one to four bytes) and decodes back to itself.
func TestEncodeLengths(t *testing.T) {
	for _, size := range []int{0, 1, 100, 127 - 7, 128, 300, 16383, 16384, 70000, 2097152, 3 << 20} {
		p := &Packet{Type: PUBLISH, Topic: "a/b", QoS: 1, ID: 7, Payload: bytes.Repeat([]byte{'x'}, size)}
		b := p.Encode([]byte{0xAA, 0xBB}, V311)
		if b[0] != 0xAA || b[1] != 0xBB {
			t.Fatalf("size %d: prefix overwritten: % x", size, b[:2])
		}
		got, n, err := Decode(b[2:], V311, 0)
		if err != nil || n != len(b)-2 {
			t.Fatalf("size %d: %v after %d of %d bytes", size, err, n, len(b)-2)
		}
		if got.Topic != p.Topic || got.ID != p.ID || !bytes.Equal(got.Payload, p.Payload) {
			t.Fatalf("size %d: decoded %s id %d, %d bytes", size, got.Topic, got.ID, len(got.Payload))
		}
	}
}

// BenchmarkEncodePublish encodes a 64-byte QoS 0 PUBLISH, as a delivery
// to a 3.1.1 client does.
func BenchmarkEncodePublish(b *testing.B) {
	p := &Packet{Type: PUBLISH, Topic: "bench/pairs/17", Payload: bytes.Repeat([]byte{'x'}, 64)}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Encode(nil, V311)
	}
}

// TestDecodeIntoReuse: every packet of the wire table decodes into a
// reused Packet — one that last held each of the other packets — exactly
// as into a new one: nothing of the packet before shows through.
func TestDecodeIntoReuse(t *testing.T) {
	cases := loadWire(t)
	var scratch Packet
	for _, before := range cases {
		for _, c := range cases {
			if _, _, err := decodeInto(&scratch, before.b, before.version, 0); err != nil {
				continue
			}
			want, wn, werr := Decode(c.b, c.version, 0)
			got, gn, gerr := decodeInto(&scratch, c.b, c.version, 0)
			if (werr == nil) != (gerr == nil) || wn != gn {
				t.Fatalf("%x after %x: %v (%d bytes), want %v (%d bytes)", c.b, before.b, gerr, gn, werr, wn)
			}
			if werr != nil {
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%x after %x:\n got %+v\nwant %+v", c.b, before.b, got, want)
			}
			if (got == &scratch) != reuse(got.Type) {
				t.Fatalf("%x: type %d decoded into the scratch packet: %v", c.b, got.Type, got == &scratch)
			}
		}
	}
}
