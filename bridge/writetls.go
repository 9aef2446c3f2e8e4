package bridge

import (
	"crypto/tls"
	"sync"
)

// tlsBatchMax bounds the buffer a TLS write's frames are copied into: four
// full TLS records.
const tlsBatchMax = 64 << 10

var tlsBatchPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// writeTLS writes frames to a TLS connection. net.Buffers.WriteTo would call
// tls.Conn.Write once per frame, and each call seals at least one record and
// makes one system call; instead, frames are copied into one pooled buffer
// (up to tlsBatchMax) and written with one Write, which cuts it into records
// of up to 16 KiB. A frame of tlsBatchMax or more is written as it is.
func writeTLS(c *tls.Conn, bufs [][]byte) error {
	if len(bufs) == 1 {
		_, err := c.Write(bufs[0])
		return err
	}
	bp := tlsBatchPool.Get().(*[]byte)
	b := (*bp)[:0]
	var err error
	for _, p := range bufs {
		if len(b) > 0 && len(b)+len(p) > tlsBatchMax {
			if _, err = c.Write(b); err != nil {
				break
			}
			b = b[:0]
		}
		if len(p) >= tlsBatchMax {
			if _, err = c.Write(p); err != nil {
				break
			}
			continue
		}
		b = append(b, p...)
	}
	if err == nil && len(b) > 0 {
		_, err = c.Write(b)
	}
	if cap(b) <= 2*tlsBatchMax {
		*bp = b[:0]
		tlsBatchPool.Put(bp)
	}
	return err
}
