//go:build !linux

package wire

import (
	"errors"
	"log/slog"
	"syscall"
)

// Waker is what the poller wakes when its socket has something to read.
type Waker interface{ Wake() }

// Poller is Linux-only (epoll); elsewhere every connection has a blocking
// reader goroutine.
type Poller struct{}

// NewPoller fails: there is no poller on this OS.
func NewPoller(*slog.Logger) (*Poller, error) { return nil, errors.New("wire: no poller on this OS") }

// Add fails: there is no poller on this OS.
func (p *Poller) Add(Waker, syscall.RawConn) error { return errors.New("wire: no poller") }

// Arm does nothing.
func (p *Poller) Arm(syscall.RawConn) error { return nil }

// Remove does nothing.
func (p *Poller) Remove(Waker, syscall.RawConn) {}

// Close does nothing.
func (p *Poller) Close() {}
