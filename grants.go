package kms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

const (
	grantStoragePrefix = "grant/" // grant/<key id>/<grant id>: grantEntry
	grantTokenKeyPath  = "grant-token-key"
	// retiring/<escaped principal>/<key id>/<grant id>: an empty entry per
	// grant with a retiring principal, so ListRetirableGrants reads only
	// that principal's grants. retiringIndexDone marks that grants made
	// before the index existed have been indexed.
	retiringStoragePrefix = "retiring/"
	retiringIndexDone     = "retiring-index-v1"
)

// maxGrantsPerKey bounds a key's grants (a var so a test can lower it).
var maxGrantsPerKey = 50000

type grantEntry struct {
	GrantID           string          `json:"grant_id"`
	KeyID             string          `json:"key_id"`
	Name              string          `json:"name,omitempty"`
	GranteePrincipal  string          `json:"grantee_principal"`
	RetiringPrincipal string          `json:"retiring_principal,omitempty"`
	IssuingPrincipal  string          `json:"issuing_principal"`
	Operations        []string        `json:"operations"`
	Constraints       *contextMatcher `json:"constraints,omitempty"`
	CreationDate      time.Time       `json:"creation_date"`

	// grantee is GranteePrincipal parsed, when the index holds the grant.
	grantee awspolicy.Principal
}

// granteeKey is the index key of a grantee: its Vault identity, so that
// an IAM ARN and the Vault form of the same identity meet in one list.
func granteeKey(principal string) (string, awspolicy.Principal) {
	p, err := awspolicy.ParsePrincipal(principal)
	if err != nil {
		return principal, p
	}
	return p.IndexKey(), p
}

// sameParameters is AWS's test for an idempotent CreateGrant.
func (g *grantEntry) sameParameters(o *grantEntry) bool {
	if g.GranteePrincipal != o.GranteePrincipal || g.RetiringPrincipal != o.RetiringPrincipal ||
		len(g.Operations) != len(o.Operations) || !g.Constraints.equal(o.Constraints) {
		return false
	}
	for _, op := range o.Operations {
		if !access.HasOperation(g.Operations, op) {
			return false
		}
	}
	return true
}

// grantIndex holds one key's grants, indexed by grantee so that checking a
// request is a lookup, however many grants the key has.
type grantIndex struct {
	mu        sync.RWMutex
	byID      map[string]*grantEntry
	byGrantee map[string][]*grantEntry
}

func newGrantIndex() *grantIndex {
	return &grantIndex{byID: map[string]*grantEntry{}, byGrantee: map[string][]*grantEntry{}}
}

func (x *grantIndex) add(g *grantEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byID[g.GrantID] = g
	key, p := granteeKey(g.GranteePrincipal)
	g.grantee = p
	x.byGrantee[key] = append(x.byGrantee[key], g)
}

func (x *grantIndex) remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	g, ok := x.byID[id]
	if !ok {
		return
	}
	delete(x.byID, id)
	key, _ := granteeKey(g.GranteePrincipal)
	list := x.byGrantee[key]
	out := make([]*grantEntry, 0, len(list))
	for _, o := range list {
		if o.GrantID != id {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		delete(x.byGrantee, key)
	} else {
		x.byGrantee[key] = out
	}
}

func (x *grantIndex) get(id string) *grantEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byID[id]
}

func (x *grantIndex) all() []*grantEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]*grantEntry, 0, len(x.byID))
	for _, g := range x.byID {
		out = append(out, g)
	}
	return out
}

func (x *grantIndex) count() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// find returns one of the caller's grants that allow op with context ec.
func (x *grantIndex) find(who *awspolicy.Caller, op string, ec map[string]string, hasContext bool) *grantEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, k := range who.IndexKeys() {
		for _, g := range x.byGrantee[k] {
			// Constraints apply only to operations that take a context.
			if access.HasOperation(g.Operations, op) && (!hasContext || g.Constraints.matches(ec, true)) && g.grantee.Names(who, awspolicy.UseAllow) {
				return g
			}
		}
	}
	return nil
}

// grants returns a key's grant index, loading it on first use. A load that
// raced with a grant write or an Invalidate is not cached.
func (b *backend) grants(ctx context.Context, s logical.Storage, keyID string) (*grantIndex, error) {
	if x, ok := b.cache.grants.get(keyID); ok {
		return x, nil
	}
	t := b.cache.grants.ticket()
	x, err := readGrants(ctx, s, keyID)
	if err != nil {
		return nil, err
	}
	b.cache.grants.fill(keyID, t, x)
	return x, nil
}

// lockedGrants returns a key's grant index for a read-modify-write, under
// the key's lock. Grant entries are immutable (created, then deleted), so
// the cached index is current exactly when it holds the grant ids storage
// lists: one List checks it, and a mismatch reloads from storage.
func (b *backend) lockedGrants(ctx context.Context, s logical.Storage, keyID string) (*grantIndex, error) {
	t := b.cache.grants.ticket()
	ids, err := s.List(ctx, grantStoragePrefix+keyID+"/")
	if err != nil {
		return nil, err
	}
	if x, ok := b.cache.grants.get(keyID); ok && x.hasExactly(ids) {
		return x, nil
	}
	x, err := readGrants(ctx, s, keyID)
	if err != nil {
		return nil, err
	}
	b.cache.grants.fill(keyID, t, x)
	return x, nil
}

func (x *grantIndex) hasExactly(ids []string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(ids) != len(x.byID) {
		return false
	}
	for _, id := range ids {
		if _, ok := x.byID[id]; !ok {
			return false
		}
	}
	return true
}

func readGrants(ctx context.Context, s logical.Storage, keyID string) (*grantIndex, error) {
	prefix := grantStoragePrefix + keyID + "/"
	ids, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	x := newGrantIndex()
	for _, id := range ids {
		raw, err := s.Get(ctx, prefix+id)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		g := &grantEntry{}
		if err := raw.DecodeJSON(g); err != nil {
			return nil, err
		}
		x.add(g)
	}
	return x, nil
}

// putGrant and deleteGrant run under the key's lock.
func (b *backend) putGrant(ctx context.Context, s logical.Storage, x *grantIndex, g *grantEntry) error {
	entry, err := logical.StorageEntryJSON(grantStoragePrefix+g.KeyID+"/"+g.GrantID, g)
	if err != nil {
		return err
	}
	// The index entry first: one left behind by a failed grant write is
	// skipped when listing, while a grant without its entry would be missed.
	if err := putRetiring(ctx, s, g); err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		b.cache.grants.invalidate(g.KeyID)
		return err
	}
	x.add(g)
	b.cache.grants.put(g.KeyID, x)
	return nil
}

func (b *backend) deleteGrant(ctx context.Context, s logical.Storage, x *grantIndex, g *grantEntry) error {
	if err := s.Delete(ctx, grantStoragePrefix+g.KeyID+"/"+g.GrantID); err != nil {
		b.cache.grants.invalidate(g.KeyID)
		return err
	}
	// The grant is gone: the cache says so before anything else can fail.
	x.remove(g.GrantID)
	b.cache.grants.put(g.KeyID, x)
	// The revoke or retire has taken effect: a stale index entry is skipped
	// by retirableGrants, so failing to delete it must not tell the client
	// the grant is still there.
	if g.RetiringPrincipal != "" {
		if err := s.Delete(ctx, retiringKey(g.RetiringPrincipal, g.KeyID, g.GrantID)); err != nil {
			b.Logger().Warn("grant removed; its retiring-principal index entry stays (skipped when read)",
				"key_id", g.KeyID, "grant_id", g.GrantID, "error", err)
		}
	}
	return nil
}

func retiringKey(principal, keyID, grantID string) string {
	return retiringStoragePrefix + url.PathEscape(principal) + "/" + keyID + "/" + grantID
}

func putRetiring(ctx context.Context, s logical.Storage, g *grantEntry) error {
	if g.RetiringPrincipal == "" {
		return nil
	}
	return s.Put(ctx, &logical.StorageEntry{Key: retiringKey(g.RetiringPrincipal, g.KeyID, g.GrantID)})
}

// retirableGrants reads the grants whose retiring principal is p, from the
// retiring index. An index entry whose grant is gone (a retire racing the
// one-time backfill, or an index delete that failed) is skipped.
func (b *backend) retirableGrants(ctx context.Context, s logical.Storage, p string) ([]*grantEntry, error) {
	if err := b.backfillRetiring(ctx, s); err != nil {
		return nil, err
	}
	prefix := retiringStoragePrefix + url.PathEscape(p) + "/"
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []*grantEntry
	for _, k := range keys {
		ids, err := s.List(ctx, prefix+k)
		if err != nil {
			return nil, err
		}
		keyID := strings.TrimSuffix(k, "/")
		for _, id := range ids {
			g, err := readGrant(ctx, s, keyID, id)
			if err != nil {
				return nil, err
			}
			if g != nil && g.RetiringPrincipal == p {
				out = append(out, g)
			}
		}
	}
	return out, nil
}

func readGrant(ctx context.Context, s logical.Storage, keyID, grantID string) (*grantEntry, error) {
	raw, err := s.Get(ctx, grantStoragePrefix+keyID+"/"+grantID)
	if err != nil || raw == nil {
		return nil, err
	}
	g := &grantEntry{}
	if err := raw.DecodeJSON(g); err != nil {
		return nil, err
	}
	return g, nil
}

// backfillRetiring indexes, once, the grants made before the retiring
// index existed. On a performance standby the write fails with
// ErrReadOnly, and Vault forwards the request to the active node.
func (b *backend) backfillRetiring(ctx context.Context, s logical.Storage) error {
	if b.retiringIndexed.Load() {
		return nil
	}
	b.mountLock.Lock()
	defer b.mountLock.Unlock()
	done, err := s.Get(ctx, retiringIndexDone)
	if err != nil {
		return err
	}
	if done == nil {
		keys, err := s.List(ctx, grantStoragePrefix)
		if err != nil {
			return err
		}
		for _, k := range keys {
			keyID := strings.TrimSuffix(k, "/")
			ids, err := s.List(ctx, grantStoragePrefix+k)
			if err != nil {
				return err
			}
			for _, id := range ids {
				g, err := readGrant(ctx, s, keyID, id)
				if err != nil {
					return err
				}
				if g != nil {
					if err := putRetiring(ctx, s, g); err != nil {
						return err
					}
				}
			}
		}
		if err := s.Put(ctx, &logical.StorageEntry{Key: retiringIndexDone, Value: []byte("1")}); err != nil {
			return err
		}
	}
	b.retiringIndexed.Store(true)
	return nil
}

// deleteAllGrants removes a key's grants when the key is destroyed.
func (b *backend) deleteAllGrants(ctx context.Context, s logical.Storage, keyID string) error {
	prefix := grantStoragePrefix + keyID + "/"
	ids, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		g, err := readGrant(ctx, s, keyID, id)
		if err != nil {
			return err
		}
		if g != nil && g.RetiringPrincipal != "" {
			if err := s.Delete(ctx, retiringKey(g.RetiringPrincipal, keyID, id)); err != nil {
				return err
			}
		}
		if err := s.Delete(ctx, prefix+id); err != nil {
			b.cache.grants.invalidate(keyID)
			return err
		}
	}
	b.cache.grants.invalidate(keyID)
	return nil
}

// Grant tokens are "v1.<key id>.<grant id>.<mac>", base64url, where mac is
// an HMAC-SHA256 under a key derived from a per-mount secret for grant
// tokens (tokenMAC): a forged or altered token fails without a storage
// lookup.
func (b *backend) tokenKey(ctx context.Context, s logical.Storage) ([]byte, error) {
	if k := b.cache.tokenKey.Load(); k != nil {
		return *k, nil
	}
	b.mountLock.Lock()
	defer b.mountLock.Unlock()
	raw, err := s.Get(ctx, grantTokenKeyPath)
	if err != nil {
		return nil, err
	}
	var key []byte
	if raw != nil {
		key = raw.Value
	} else {
		key = make([]byte, 32)
		if _, err := io.ReadFull(b.random, key); err != nil {
			return nil, err
		}
		if err := s.Put(ctx, &logical.StorageEntry{Key: grantTokenKeyPath, Value: key, SealWrap: true}); err != nil {
			return nil, err
		}
	}
	b.cache.tokenKey.Store(&key)
	return key, nil
}

// Token purposes. Each MACs under its own key, derived from the mount's
// token key and the purpose's label, so a token of one purpose can never
// verify as a token of another (a grant token as an import token, say).
const (
	purposeGrantToken  = "vault-plugin-kms/grant-token/v1"
	purposeImportToken = "vault-plugin-kms/import-token/v1"
)

// tokenMAC is HMAC-SHA256, under the purpose's key, of the fields, each
// length-prefixed so no two field lists share an encoding.
func tokenMAC(key []byte, purpose string, fields ...string) string {
	d := hmac.New(sha256.New, key)
	d.Write([]byte(purpose))
	m := hmac.New(sha256.New, d.Sum(nil))
	for _, f := range fields {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (b *backend) grantToken(ctx context.Context, s logical.Storage, g *grantEntry) (string, error) {
	key, err := b.tokenKey(ctx, s)
	if err != nil {
		return "", err
	}
	raw := "v1." + g.KeyID + "." + g.GrantID + "." + tokenMAC(key, purposeGrantToken, g.KeyID, g.GrantID)
	return base64.RawURLEncoding.EncodeToString([]byte(raw)), nil
}

// parseGrantToken checks a token's MAC and returns the key and grant ids.
func (b *backend) parseGrantToken(ctx context.Context, s logical.Storage, token string) (string, string, error) {
	invalid := kmserr.New(kmserr.InvalidGrantToken, "the grant token is not valid")
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", "", invalid
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", "", invalid
	}
	key, err := b.tokenKey(ctx, s)
	if err != nil {
		return "", "", err
	}
	if !hmac.Equal([]byte(parts[3]), []byte(tokenMAC(key, purposeGrantToken, parts[1], parts[2]))) {
		return "", "", invalid
	}
	return parts[1], parts[2], nil
}

// forGrantee lists the grants whose grantee is the caller.
func (x *grantIndex) forGrantee(who *awspolicy.Caller) []*grantEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []*grantEntry
	for _, k := range who.IndexKeys() {
		for _, g := range x.byGrantee[k] {
			if g.grantee.Names(who, awspolicy.UseAllow) {
				out = append(out, g)
			}
		}
	}
	return out
}

// parentGrant is the id of one of the caller's grants that lets it create
// g (access.Request.Grant for CreateGrant): a grant including CreateGrant
// lets its grantee create grants for the same or fewer operations under
// constraints at least as strict; "" if none does.
func (x *grantIndex) parentGrant(who *awspolicy.Caller, g *grantEntry) string {
	for _, parent := range x.forGrantee(who) {
		if !access.HasOperation(parent.Operations, opCreateGrant) {
			continue
		}
		narrower := g.Constraints.atLeastAsStrictAs(parent.Constraints)
		for _, op := range g.Operations {
			narrower = narrower && access.HasOperation(parent.Operations, op)
		}
		if narrower {
			return parent.GrantID
		}
	}
	return ""
}

// retireStanding is the caller's standing to retire g whatever the key
// policy says (access.Request.Standing): as its retiring principal, or as
// its grantee when it includes RetireGrant; "" otherwise.
func (g *grantEntry) retireStanding(who *awspolicy.Caller) string {
	switch {
	case g.RetiringPrincipal != "" && principalMatches(g.RetiringPrincipal, who):
		return "retiring principal of grant " + g.GrantID
	case principalMatches(g.GranteePrincipal, who) && access.HasOperation(g.Operations, opRetireGrant):
		return "grantee of grant " + g.GrantID + ", which includes RetireGrant"
	}
	return ""
}
