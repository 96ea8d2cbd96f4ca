package hsm

import (
	"errors"
	"sync"

	"github.com/miekg/pkcs11"
)

// A PKCS#11 library is initialised once per process (a second C_Initialize
// fails, and C_Finalize ends every caller's sessions), so connections share
// it by path and the last one to close finalises it.
var modules = struct {
	sync.Mutex
	m map[string]*sharedModule
}{m: map[string]*sharedModule{}}

type sharedModule struct {
	ctx  *pkcs11.Ctx
	refs int
}

func acquireModule(path string) (*pkcs11.Ctx, error) {
	modules.Lock()
	defer modules.Unlock()
	if m, ok := modules.m[path]; ok {
		m.refs++
		return m.ctx, nil
	}
	p11 := pkcs11.New(path)
	if p11 == nil {
		return nil, newError("load module", ErrModule)
	}
	if err := p11.Initialize(); err != nil {
		var ck pkcs11.Error
		// Another library user in this process initialised it: usable, and
		// not ours to finalise, which refs > 0 forever ensures.
		if !errors.As(err, &ck) || uint(ck) != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			p11.Destroy()
			return nil, &Error{Op: "initialize module", Class: ErrModule, CKR: ckrNameOf(err)}
		}
		modules.m[path] = &sharedModule{ctx: p11, refs: 2}
		return p11, nil
	}
	modules.m[path] = &sharedModule{ctx: p11, refs: 1}
	return p11, nil
}

func releaseModule(path string) {
	modules.Lock()
	defer modules.Unlock()
	m, ok := modules.m[path]
	if !ok {
		return
	}
	if m.refs--; m.refs > 0 {
		return
	}
	delete(modules.m, path)
	_ = m.ctx.Finalize()
	m.ctx.Destroy()
}
