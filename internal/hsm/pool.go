package hsm

import (
	"context"

	"github.com/miekg/pkcs11"
)

// pool hands out sessions one caller at a time (a PKCS#11 session runs one
// operation at a time) and bounds how many are open.
type pool struct {
	idle  chan pkcs11.SessionHandle
	slots chan struct{} // a token per session in use
}

func newPool(max int) *pool {
	return &pool{idle: make(chan pkcs11.SessionHandle, max), slots: make(chan struct{}, max)}
}

// get returns a session and whether it was opened just now.
func (p *pool) get(ctx context.Context, t *Token) (pkcs11.SessionHandle, bool, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, false, newError("session", ErrUnavailable)
	}
	select {
	case sh := <-p.idle:
		return sh, false, nil
	default:
	}
	sh, err := t.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		<-p.slots
		return 0, false, wrap("open session", err)
	}
	if err := t.login(sh); err != nil {
		_ = t.ctx.CloseSession(sh)
		<-p.slots
		return 0, false, wrap("login", err)
	}
	return sh, true, nil
}

// put returns a session, or closes it when the token said it is gone so the
// next caller opens (and logs in) a fresh one.
func (p *pool) put(p11 *pkcs11.Ctx, sh pkcs11.SessionHandle, discard bool) {
	if discard {
		_ = p11.CloseSession(sh)
	} else {
		p.idle <- sh
	}
	<-p.slots
}

// drain closes the idle sessions; the caller holds the token exclusively,
// so none is in use.
func (p *pool) drain(p11 *pkcs11.Ctx) {
	if p == nil {
		return
	}
	for {
		select {
		case sh := <-p.idle:
			_ = p11.CloseSession(sh)
		default:
			return
		}
	}
}
