// Package kms is a Vault secrets engine that gives Vault the key model of
// AWS KMS: keys with a declared spec and usage, key states, a deletion
// window, aliases and tags, and AWS's cryptographic operations.
package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/keypool"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/tokenkeys"
)

const operationPrefix = "kms"

// Factory builds the backend; Vault calls it when the plugin is mounted.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := newBackend()
	if testClockEnabled() {
		b.enableTestClock(conf.StorageView)
	}
	if err := b.resolveAWSRoutes(); err != nil {
		return nil, err
	}
	if err := attachResponses(b.Paths); err != nil {
		return nil, err
	}
	c := *conf
	if c.System != nil {
		c.System = newCachedSystemView(c.System)
	}
	if err := b.Setup(ctx, &c); err != nil {
		return nil, err
	}
	return b, nil
}

type backend struct {
	*framework.Backend

	// keys is the key store: keys, aliases, their caches and per-key
	// locks. aliasLock is its lock of alias changes.
	keys      *keystore.Store
	aliasLock *sync.Mutex

	cache *cache

	// cfg is the mount's configuration, loaded lazily and dropped in
	// Invalidate; pool is the data key pair pool it configures.
	cfg atomic.Pointer[configEntry]
	// cfgGen counts Invalidates of the configuration, so a load that
	// raced with one is not cached (mount.go).
	cfgGen atomic.Uint64
	pool   *keypool.Pool
	// mountLock serialises lazy loading of mount-wide state (configuration
	// and the grant token key).
	mountLock sync.Mutex

	// identities caches callers' identities; lookupIdentity fills it
	// (from Vault's identity store; tests replace it).
	identities     access.IdentityCache
	lookupIdentity func(entityID string) (*awspolicy.Caller, error)

	// policyEvaluations counts AWS key policy evaluations (batch.go's
	// memo saves them; tests read it).
	policyEvaluations atomic.Int64

	// awsRoutes holds, per AWS operation, the Vault-style path serving it.
	awsRoutes map[string]*framework.Path

	// now and random are the backend's clock and entropy; tests replace
	// them to cross a deletion window without waiting.
	now    func() time.Time
	random io.Reader

	// testClock says the test-only clock hook is on (path_testclock.go):
	// now then adds clockOffset (nanoseconds), which Invalidate reloads
	// from clockStorage when another node changes it.
	testClock    bool
	clockOffset  atomic.Int64
	clockStorage logical.Storage

	// cks holds the custom key stores; hsmLive their open token
	// connections on this node.
	cks     *customkeystore.Registry
	hsmLive *customkeystore.Live
	// tokens does the work of keys in those stores.
	tokens *tokenkeys.Keys

	// layoutRefused holds why the mount's storage cannot be read (a layout
	// version this plugin does not know): every request gets it.
	layoutRefused atomic.Pointer[error]
}

func newBackend() *backend {
	b := &backend{
		now:     time.Now,
		random:  rand.Reader,
		cks:     customkeystore.NewRegistry(),
		hsmLive: customkeystore.NewLive(),
	}
	b.tokens = &tokenkeys.Keys{Stores: b.cks, Live: b.hsmLive, WriteSafe: func() bool { return b.WriteSafeReplicationState() },
		Logger: func() hclog.Logger { return b.Logger() }}
	b.keys = keystore.New(b.keyStoreDeps())
	b.tokens.Keys = b.keys
	b.aliasLock = &b.keys.AliasLock
	b.cache = newCache(b.keys)
	b.pool = keypool.New(rand.Reader)
	b.lookupIdentity = access.FromVault(func() access.Identity { return b.System() })
	b.Backend = &framework.Backend{
		Help:        strings.TrimSpace(backendHelp),
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			// Key entries hold key material; the token key signs grant tokens.
			SealWrapStorage: []string{keystore.KeyPrefix, grantTokenKeyPath, keystore.ImportPrefix, customkeystore.ConnectionPrefix},
			// Replacing a key policy without the policy's consent, so a
			// locked-out key can always be recovered, needs sudo.
			// Loading a PKCS#11 library runs its code: HSM connections need sudo.
			Root: []string{policyRecoveryPrefix + "*", hsmConfigPrefix + "*", "config/hsm"},
		},
		Paths: framework.PathAppend(
			pathKeys(b),
			pathTags(b),
			pathKeyGrants(b),
			pathPolicy(b),
			pathRotation(b),
			pathImport(b),
			[]*framework.Path{pathPublicKey(b), pathLastUsage(b)},
			// Last among keys/ paths: its pattern also matches keys/<key>/<suffix>.
			[]*framework.Path{pathKeyDescribe(b)},
			pathAliases(b),
			pathGrants(b),
			[]*framework.Path{pathConfig(b)},
			pathConfigHSM(b),
			pathCustomKeyStores(b),
			pathCrypto(b),
			pathDataKeys(b),
			pathSign(b),
			pathMAC(b),
			pathKEM(b),
			[]*framework.Path{pathAWS(b)},
		),
		InitializeFunc: b.initialize,
		Invalidate:     b.invalidate,
		Clean:          b.clean,
		PeriodicFunc:   b.periodic,
		RunningVersion: Version,
	}
	withPolicyAttrs(b.Backend.Paths)
	return b
}

// Version is set at build time by the Makefile.
var Version = "v0.1.0"

// invalidate drops cached entries when another node (a performance standby
// or replica) changes storage under us.
func (b *backend) invalidate(ctx context.Context, key string) {
	switch {
	case b.keys.Invalidate(key):
	case strings.HasPrefix(key, grantStoragePrefix):
		keyID, _, _ := strings.Cut(strings.TrimPrefix(key, grantStoragePrefix), "/")
		b.cache.grants.Invalidate(keyID)
	case key == configStorageKey:
		b.cfgGen.Add(1)
		b.cfg.Store(nil)
	case key == grantTokenKeyPath:
		b.cache.tokenKey.Store(nil)
	case key == testClockStorageKey && b.testClock:
		if err := b.loadTestClock(ctx, b.clockStorage); err != nil {
			b.Logger().Error("reloading the test clock", "error", err)
		}
	}
}

// initialize checks the mount's storage layout version (recording it on a
// mount that has none; refusing one written by a newer plugin), loads the
// configuration so the key pool starts filling, and, on the active node,
// reconnects the custom key stores an operator connected. With the test
// clock hook on, it loads the stored clock offset first, so a node
// that becomes active runs on the clock the cluster was set to.
func (b *backend) initialize(ctx context.Context, req *logical.InitializationRequest) error {
	if b.testClock {
		b.Logger().Warn("the test clock hook is on (" + testClockEnv + "): not for production")
		if err := b.loadTestClock(ctx, req.Storage); err != nil {
			return err
		}
	}
	if err := keystore.CheckLayout(ctx, req.Storage, b.WriteSafeReplicationState()); err != nil {
		b.layoutRefused.Store(&err)
		return err
	}
	if _, err := b.config(ctx, req.Storage); err != nil {
		return err
	}
	if !b.WriteSafeReplicationState() {
		return nil
	}
	if err := b.reconnectStores(ctx, req.Storage); err != nil {
		b.Logger().Error("reconnecting custom key stores", "error", err)
	}
	return nil
}

func (b *backend) clean(context.Context) {
	b.pool.Close()
	b.hsmLive.CloseAll()
	b.cache.reset()
}

// periodic runs about once a minute. It works wherever this node may write
// the mount's storage: the active node of a primary, or a local mount of a
// performance secondary; never on a performance standby or DR secondary.
// The sweeps are independent: one failing does not stop the others.
func (b *backend) periodic(ctx context.Context, req *logical.Request) error {
	if !b.WriteSafeReplicationState() {
		return nil
	}
	s := req.Storage
	return errors.Join(
		b.keys.DeleteDueKeys(ctx, s),
		b.keys.SweepUnfinishedCreates(ctx, s),
		b.expireImportedMaterial(ctx, s),
		b.keys.RotateDueKeys(ctx, s),
		b.tokens.CheckHealth(ctx, s),
	)
}

const backendHelp = `
The KMS secrets engine gives Vault the key model of AWS KMS: keys with a key
spec and usage (symmetric, RSA, ECC, ML-DSA, HMAC), key states, a deletion
window, aliases and tags, and AWS's cryptographic operations on them.
`

// keyStoreDeps wires the key store to the backend: its clock (tests move
// it), its logger, the token key material ids are made under, and the key
// policy parser.
func (b *backend) keyStoreDeps() keystore.Deps {
	return keystore.Deps{
		Now:           func() time.Time { return b.now() },
		Random:        func() io.Reader { return b.random },
		Logger:        func() hclog.Logger { return b.Logger() },
		WriteSafe:     func() bool { return b.WriteSafeReplicationState() },
		TokenKey:      b.tokenKey,
		DeleteGrants:  b.deleteAllGrants,
		ParsePolicy:   access.ParsePolicy,
		RefusedPolicy: access.RefusedPolicy,
		ReleaseHSM:    b.tokens.Release,
	}
}
