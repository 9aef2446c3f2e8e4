//go:build !linux

package bridge

import (
	"errors"
	"log/slog"
	"syscall"
)

// poller is Linux-only (epoll); elsewhere every connection has a blocking
// reader goroutine.
type poller struct{}

func newPoller(*slog.Logger) (*poller, error)         { return nil, errors.New("bridge: no poller on this OS") }
func (p *poller) add(*Session, syscall.RawConn) error { return errors.New("bridge: no poller") }
func (p *poller) arm(syscall.RawConn) error           { return nil }
func (p *poller) remove(*Session, syscall.RawConn)    {}
func (p *poller) close()                              {}
