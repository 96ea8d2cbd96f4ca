package hsm

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// Config names a token and its crypto user. Exactly one of TokenLabel or
// Slot is set.
type Config struct {
	Module      string // path of the PKCS#11 library (operator-defined only)
	TokenLabel  string
	Slot        *uint
	PIN         string
	MaxSessions int // sessions open at once; 8 when zero
	// VerifyPIN makes Open prove the PIN with C_Login. Login state belongs
	// to the process, so while another connection of this process is
	// logged in to the token a new one would be too, whatever its PIN:
	// with VerifyPIN that fails with ErrUserLoggedIn instead.
	VerifyPIN bool
}

// Token is a logged-in connection to one token. Its methods are safe for
// concurrent use; Close ends it.
type Token struct {
	module string
	ctx    *pkcs11.Ctx
	slot   uint
	serial string
	pin    string
	verify bool // the next login must be a real C_Login (Config.VerifyPIN)

	// mu is held shared by every call into the token and exclusively by
	// Close, so a session is never used after the module is finalised.
	mu     sync.RWMutex
	closed bool
	pool   *pool

	keysMu sync.Mutex
	keys   map[string]pkcs11.ObjectHandle // label -> handle, a cache
	genMu  sync.Mutex                     // one generation at a time keeps labels unique
}

const defaultMaxSessions = 8

// Open loads the module (shared with other connections to it in this
// process), finds the token, checks that it has AES key generation and
// AES-GCM, and logs in, so a wrong PIN is reported here.
func Open(ctx context.Context, cfg Config) (*Token, error) {
	if cfg.Module == "" || (cfg.TokenLabel == "") == (cfg.Slot == nil) {
		return nil, newError("open", ErrConfig)
	}
	p11, err := acquireModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	t := &Token{module: cfg.Module, ctx: p11, pin: cfg.PIN, verify: cfg.VerifyPIN, keys: map[string]pkcs11.ObjectHandle{}}
	if err := t.init(ctx, cfg); err != nil {
		t.pool.drain(p11)
		releaseModule(cfg.Module)
		return nil, err
	}
	return t, nil
}

func (t *Token) init(ctx context.Context, cfg Config) error {
	slot, serial, err := findSlot(t.ctx, cfg)
	if err != nil {
		return err
	}
	t.slot, t.serial = slot, serial
	for _, m := range []uint{pkcs11.CKM_AES_KEY_GEN, pkcs11.CKM_AES_GCM} {
		if _, err := t.ctx.GetMechanismInfo(slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}); err != nil {
			return &Error{Op: "open", Class: ErrUnsupported, CKR: ckrNameOf(err)}
		}
	}
	max := cfg.MaxSessions
	if max <= 0 {
		max = defaultMaxSessions
	}
	t.pool = newPool(max)
	// The first session logs in; a wrong PIN fails Open, not a later call.
	return t.withSession(ctx, "login", func(pkcs11.SessionHandle) error { return nil })
}

// findSlot returns the token's slot and serial number.
func findSlot(p11 *pkcs11.Ctx, cfg Config) (uint, string, error) {
	slots, err := p11.GetSlotList(true)
	if err != nil {
		return 0, "", wrap("open", err)
	}
	for _, s := range slots {
		if cfg.Slot != nil && s != *cfg.Slot {
			continue
		}
		info, err := p11.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if cfg.Slot != nil || strings.TrimRight(info.Label, " \x00") == cfg.TokenLabel {
			return s, strings.TrimRight(info.SerialNumber, " \x00"), nil
		}
	}
	return 0, "", newError("open", ErrTokenNotFound)
}

// Serial is the token's serial number: the same token reached through
// another connection (another slot number, module path or label) has the
// same serial.
func (t *Token) Serial() string { return t.serial }

// Close returns the sessions and releases the module once no connection
// uses it. Calls after Close fail with ErrClosed.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.pool.drain(t.ctx)
	releaseModule(t.module)
	return nil
}

// Health checks that the token is present and a session is logged in.
func (t *Token) Health(ctx context.Context) error {
	return t.withSession(ctx, "health", func(sh pkcs11.SessionHandle) error {
		if _, err := t.ctx.GetTokenInfo(t.slot); err != nil {
			return err
		}
		_, err := t.ctx.GetSessionInfo(sh)
		return err
	})
}

// withSession runs fn on a logged-in session of the pool, throwing the
// session away when the token says it is gone.
func (t *Token) withSession(ctx context.Context, op string, fn func(pkcs11.SessionHandle) error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return newError(op, ErrClosed)
	}
	// A pooled session can have died with the token's connection; one retry
	// on a fresh session (logged in anew) spares the request that finds out.
	for attempt := 0; ; attempt++ {
		sh, fresh, err := t.pool.get(ctx, t)
		if err != nil {
			return wrapOp(op, err)
		}
		err = wrap(op, fn(sh))
		t.pool.put(t.ctx, sh, stale(err))
		if !stale(err) || fresh || attempt > 0 {
			return err
		}
	}
}

// login makes a fresh session usable. Login state belongs to the
// application, not the session: once any session has logged in, a new one
// already is, which GetSessionInfo shows.
func (t *Token) login(sh pkcs11.SessionHandle) error {
	info, err := t.ctx.GetSessionInfo(sh)
	if err != nil {
		return err
	}
	if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
		if t.verify {
			return newError("login", ErrUserLoggedIn)
		}
		return nil
	}
	err = t.ctx.Login(sh, pkcs11.CKU_USER, t.pin)
	if ck, ok := err.(pkcs11.Error); ok && uint(ck) == pkcs11.CKR_USER_ALREADY_LOGGED_IN && !t.verify {
		return nil
	}
	if err == nil {
		t.verify = false // proven once; later sessions share the login
	}
	return err
}

func wrapOp(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Op: op, Class: e.Class, CKR: e.CKR}
	}
	return wrap(op, err)
}

func ckrNameOf(err error) string {
	var ck pkcs11.Error
	if errors.As(err, &ck) {
		return ckrName(ck)
	}
	return ""
}
