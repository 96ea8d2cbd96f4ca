package access

import (
	"context"
	"net/url"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
)

// Grant storage. The caller holds the key's lock around every write, and
// keeps the key's GrantIndex cache in step with what these return.
const (
	GrantStoragePrefix = "grant/" // grant/<key id>/<grant id>: Grant
	// RetiringStoragePrefix: retiring/<escaped principal>/<key id>/<grant
	// id> is an empty entry per grant with a retiring principal, so
	// ListRetirableGrants reads only that principal's grants.
	RetiringStoragePrefix = "retiring/"
)

// MaxGrantsPerKey bounds a key's grants (a var so a test can lower it).
var MaxGrantsPerKey = 50000

// ReadGrants reads a key's grants into a new index.
func ReadGrants(ctx context.Context, s logical.Storage, keyID string) (*GrantIndex, error) {
	prefix := GrantStoragePrefix + keyID + "/"
	ids, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	x := NewGrantIndex()
	for _, id := range ids {
		g, err := ReadGrant(ctx, s, keyID, id)
		if err != nil {
			return nil, err
		}
		if g != nil {
			x.Add(g)
		}
	}
	return x, nil
}

// ListGrantIDs lists a key's stored grant ids.
func ListGrantIDs(ctx context.Context, s logical.Storage, keyID string) ([]string, error) {
	return s.List(ctx, GrantStoragePrefix+keyID+"/")
}

// ReadGrant reads one grant; nil if there is none.
func ReadGrant(ctx context.Context, s logical.Storage, keyID, grantID string) (*Grant, error) {
	raw, err := s.Get(ctx, GrantStoragePrefix+keyID+"/"+grantID)
	if err != nil || raw == nil {
		return nil, err
	}
	g := &Grant{}
	if err := raw.DecodeJSON(g); err != nil {
		return nil, err
	}
	return g, nil
}

// PutGrant stores g and its retiring index entry.
func PutGrant(ctx context.Context, s logical.Storage, g *Grant) error {
	entry, err := logical.StorageEntryJSON(GrantStoragePrefix+g.KeyID+"/"+g.GrantID, g)
	if err != nil {
		return err
	}
	// The index entry first: one left behind by a failed grant write is
	// skipped when listing, while a grant without its entry would be missed.
	if err := putRetiring(ctx, s, g); err != nil {
		return err
	}
	return s.Put(ctx, entry)
}

// DeleteGrant deletes g. Once the grant is gone the revoke or retire has
// taken effect: a stale retiring index entry is skipped by
// RetirableGrants, so failing to delete it is logged, not returned.
func DeleteGrant(ctx context.Context, s logical.Storage, g *Grant, log hclog.Logger) error {
	if err := s.Delete(ctx, GrantStoragePrefix+g.KeyID+"/"+g.GrantID); err != nil {
		return err
	}
	if g.RetiringPrincipal != "" {
		if err := s.Delete(ctx, retiringKey(g.RetiringPrincipal, g.KeyID, g.GrantID)); err != nil {
			log.Warn("grant removed; its retiring-principal index entry stays (skipped when read)",
				"key_id", g.KeyID, "grant_id", g.GrantID, "error", err)
		}
	}
	return nil
}

// DeleteAllGrants removes a key's grants when the key is destroyed.
func DeleteAllGrants(ctx context.Context, s logical.Storage, keyID string) error {
	prefix := GrantStoragePrefix + keyID + "/"
	ids, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		g, err := ReadGrant(ctx, s, keyID, id)
		if err != nil {
			return err
		}
		if g != nil && g.RetiringPrincipal != "" {
			if err := s.Delete(ctx, retiringKey(g.RetiringPrincipal, keyID, id)); err != nil {
				return err
			}
		}
		if err := s.Delete(ctx, prefix+id); err != nil {
			return err
		}
	}
	return nil
}

func retiringKey(principal, keyID, grantID string) string {
	return RetiringStoragePrefix + url.PathEscape(principal) + "/" + keyID + "/" + grantID
}

func putRetiring(ctx context.Context, s logical.Storage, g *Grant) error {
	if g.RetiringPrincipal == "" {
		return nil
	}
	return s.Put(ctx, &logical.StorageEntry{Key: retiringKey(g.RetiringPrincipal, g.KeyID, g.GrantID)})
}

// RetirableGrants reads the grants whose retiring principal is p, from
// the retiring index. An index entry whose grant is gone (an index delete
// that failed) is skipped.
func RetirableGrants(ctx context.Context, s logical.Storage, p string) ([]*Grant, error) {
	prefix := RetiringStoragePrefix + url.PathEscape(p) + "/"
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []*Grant
	for _, k := range keys {
		ids, err := s.List(ctx, prefix+k)
		if err != nil {
			return nil, err
		}
		keyID := strings.TrimSuffix(k, "/")
		for _, id := range ids {
			g, err := ReadGrant(ctx, s, keyID, id)
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
