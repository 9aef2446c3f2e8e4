package bridge

import (
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// maxIovecs is how many buffers one writev takes (Linux's IOV_MAX).
const maxIovecs = 1024

var iovecPool = sync.Pool{New: func() any { v := make([]syscall.Iovec, 0, 64); return &v }}

// writeInline writes what is queued on the calling goroutine, for as long as
// the socket takes it without blocking. It returns true when the queue is
// empty and the writer idle again; false when writeLoop must take over,
// the writer still running: the socket is full (what was written is
// accounted for and the rest waits in the queue, a partly written frame
// with w.skip), a close frame is queued, or a write failed.
func (s *Session) writeInline() bool {
	w := &s.w
	iovp := iovecPool.Get().(*[]syscall.Iovec)
	defer iovecPool.Put(iovp)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || w.stopped {
			w.idle(nil)
			w.mu.Unlock()
			return true
		}
		if w.closing || len(w.queue) > maxIovecs {
			w.mu.Unlock()
			return false // closes and very long queues: writeLoop's
		}
		batch := w.queue
		skip := w.skip
		w.mu.Unlock()

		iov := (*iovp)[:0]
		total := 0
		for i, f := range batch {
			b := f.Bytes()
			if i == 0 {
				b = b[skip:]
			}
			iov = append(iov, syscall.Iovec{Base: &b[0]})
			iov[len(iov)-1].SetLen(len(b))
			total += len(b)
		}
		*iovp = iov
		var n int
		var werr syscall.Errno
		if err := s.r.raw.Write(func(fd uintptr) bool {
			r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			n, werr = int(r), e
			return true // never wait for the socket: writeLoop does that
		}); err != nil || (werr != 0 && werr != syscall.EAGAIN) {
			return false // writeLoop meets the error again and ends the connection
		}
		if werr == syscall.EAGAIN {
			n = 0
		}
		clear(iov)
		now := time.Now()
		// Take what was written off the queue. Frames queued meanwhile
		// were appended behind batch, so the written ones are still first.
		done, left := 0, n+skip
		for done < len(batch) && batch[done].Len() <= left {
			left -= batch[done].Len()
			done++
		}
		w.mu.Lock()
		size, data := countFrames(w.queue[:done])
		w.queued -= size
		clear(w.queue[:done]) // under the lock: an enqueue may reuse the slots
		w.skip = left
		if done == len(w.queue) {
			w.queue = w.queue[:0] // keep the slice for the next enqueue
		} else {
			w.queue = w.queue[done:]
		}
		w.mu.Unlock()
		if done > 0 {
			s.wrote(size, data, now)
		}
		if n < total {
			return false // the socket is full: the rest blocks in writeLoop
		}
	}
}
