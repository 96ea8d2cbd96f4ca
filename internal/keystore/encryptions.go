package keystore

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Keys in a custom key store encrypt with AES-GCM in their token, under a
// 96-bit IV the plugin draws at random (docs/HSM.md). NIST SP 800-38D 8.3
// allows at most 2^32 invocations of the encryption function with one key
// and random IVs: beyond that the chance of a repeated IV, which gives away
// the authentication key, passes 2^-32. The store counts them per key.
//
// Counting in storage per request would make every encryption a storage
// write. Instead the active node reserves a block of invocations with one
// write (encryption-count/<key id> holds the end of every reservation so
// far) before it uses any of them, and hands them out from memory. What a
// node had not used when it stops, fails over or drops the block counts as
// used: the stored reservation is always at least the real count, on any
// node that later becomes active, and never passes the limit.

const (
	// DefaultEncryptionLimit is SP 800-38D's bound for random 96-bit IVs.
	DefaultEncryptionLimit uint64 = 1 << 32
	// DefaultEncryptionBlock is the most encryptions one storage write
	// reserves: a write per 65,536 encryptions of a busy key.
	DefaultEncryptionBlock uint64 = 1 << 16
	// firstEncryptionBlock is the first block a node reserves for a key
	// (after a start, a failover or an eviction); each next one doubles, up
	// to EncryptionBlock. What a node loses when it drops a block (counted,
	// never made) is then at most what the key used since the block before
	// plus 1,024: a key whose block is evicted again and again (more keys
	// in use than the cache holds) spends its bound 64 times slower than
	// with full blocks each time.
	firstEncryptionBlock uint64 = 1 << 10
)

// EncryptionCount is a key's encryption-count/ entry.
type EncryptionCount struct {
	// Reserved is how many encryptions were reserved, on any node, since
	// the key was created: at least how many were made.
	Reserved uint64 `json:"reserved"`
}

// encryptionBlock is a reservation held in memory: used counts takes, and
// may run past size (a take that finds the block spent fails and leaves
// the increment; nothing reads used but take). A block of size 0 marks a
// key that reached the limit, so its refusals read no storage (a live
// key's count never goes down).
type encryptionBlock struct {
	used      atomic.Uint64
	size      uint64
	exhausted bool
}

func (b *encryptionBlock) take() bool { return b.used.Add(1) <= b.size }

// CountEncryption counts one encryption with key id (a key in a custom key
// store) before it is made. It reads and writes storage only when the
// key's block in memory is spent, under the key's lock; the caller must not
// hold it. At the limit it refuses with KMSInvalidStateException; a failed
// storage write refuses too, so no encryption goes uncounted.
func (st *Store) CountEncryption(ctx context.Context, s logical.Storage, id string) error {
	if done, err := st.takeEncryption(id); done {
		return err
	}
	unlock := st.Lock(id)
	defer unlock()
	// Another request may have reserved a block while this one waited.
	if done, err := st.takeEncryption(id); done {
		return err
	}
	prev, _ := st.encryptions.Get(id)
	t := st.encryptions.Ticket()
	c, err := st.readEncryptionCount(ctx, s, id)
	if err != nil {
		return err
	}
	limit := st.EncryptionLimit
	if c.Reserved >= limit {
		st.encryptions.Fill(id, t, &encryptionBlock{exhausted: true})
		return encryptionLimitReached(id, limit)
	}
	size := min(st.nextEncryptionBlock(prev), limit-c.Reserved)
	next := EncryptionCount{Reserved: c.Reserved + size}
	entry, err := logical.StorageEntryJSON(EncryptionCountPrefix+id, &next)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	b := &encryptionBlock{size: size}
	b.take() // this request's encryption, the block's first
	// An Invalidate since the read (another node wrote the entry) leaves
	// the block out of memory: this request's encryption is within what it
	// reserved, and the next one reads storage again.
	st.encryptions.Fill(id, t, b)
	return nil
}

// takeEncryption counts one encryption from the key's block in memory;
// done is false when there is no block to count from (none, or spent).
func (st *Store) takeEncryption(id string) (done bool, err error) {
	b, ok := st.encryptions.Get(id)
	switch {
	case !ok:
		return false, nil
	case b.exhausted:
		return true, encryptionLimitReached(id, st.EncryptionLimit)
	}
	return b.take(), nil
}

// nextEncryptionBlock is the size of the block to reserve after prev (nil
// when the node holds none): the first one small, each next one twice the
// last, up to EncryptionBlock.
func (st *Store) nextEncryptionBlock(prev *encryptionBlock) uint64 {
	most := max(st.EncryptionBlock, 1)
	if prev == nil || prev.exhausted {
		return min(firstEncryptionBlock, most)
	}
	return min(max(prev.size, 1)*2, most)
}

// EncryptionAllowed reports, without counting or writing, whether key id
// may encrypt once more: what a dry run checks.
func (st *Store) EncryptionAllowed(ctx context.Context, s logical.Storage, id string) error {
	if b, ok := st.encryptions.Get(id); ok {
		if b.exhausted {
			return encryptionLimitReached(id, st.EncryptionLimit)
		}
		if b.used.Load() < b.size {
			return nil
		}
	}
	c, err := st.readEncryptionCount(ctx, s, id)
	if err != nil {
		return err
	}
	if c.Reserved >= st.EncryptionLimit {
		return encryptionLimitReached(id, st.EncryptionLimit)
	}
	return nil
}

// EncryptionsReserved is the key's stored reservation (0 with no entry).
func (st *Store) EncryptionsReserved(ctx context.Context, s logical.Storage, id string) (uint64, error) {
	c, err := st.readEncryptionCount(ctx, s, id)
	return c.Reserved, err
}

func (st *Store) readEncryptionCount(ctx context.Context, s logical.Storage, id string) (EncryptionCount, error) {
	var c EncryptionCount
	raw, err := s.Get(ctx, EncryptionCountPrefix+id)
	if err != nil || raw == nil {
		return c, err
	}
	return c, raw.DecodeJSON(&c)
}

// invalidateEncryptions drops the block of a key whose entry another node
// wrote; it reports whether key was an encryption-count/ entry.
func (st *Store) invalidateEncryptions(key string) bool {
	id, ok := strings.CutPrefix(key, EncryptionCountPrefix)
	if ok {
		st.encryptions.Invalidate(id)
	}
	return ok
}

func encryptionLimitReached(id string, limit uint64) error {
	return kmserr.InvalidStatef("key '%s' has made the most encryptions one key may make with random 96-bit IVs (%d, NIST SP 800-38D 8.3): "+
		"create a new key in the custom key store and encrypt under it (keys in a custom key store cannot be rotated); this key still decrypts", id, limit)
}
