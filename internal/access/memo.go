package access

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/openkms/vault-plugin-kms/awspolicy"
)

// decisionMemo remembers a batch request's key policy decisions by
// everything they depend on (the policy, the caller, the operation, the
// key's ARN and every condition key with its values), so that batch items
// whose condition keys are equal are evaluated once: a costly policy then
// costs one evaluation per distinct encryption context, not one per item.
// Items whose keys differ (another context, another algorithm) are
// evaluated each on its own.
type decisionMemo struct {
	mu sync.Mutex
	// entries is keyed by the policy itself (which keeps it alive, so its
	// address is never another policy's during the batch), then by the
	// rest of the inputs.
	entries map[*awspolicy.Policy]map[string]*memoEntry
}

type memoEntry struct {
	once sync.Once
	d    Verdict
	by   string
}

type decisionMemoKey struct{}

// WithDecisionMemo marks ctx as a batch request's, whose items' equal
// policy questions are answered once.
func WithDecisionMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, decisionMemoKey{}, &decisionMemo{entries: map[*awspolicy.Policy]map[string]*memoEntry{}})
}

// decide returns the decision for r, calling eval only the first time
// these inputs are seen; concurrent items with equal inputs wait for it.
func (m *decisionMemo) decide(p *awspolicy.Policy, r *Request, keys awspolicy.Keys, eval func() (Verdict, string)) (Verdict, string) {
	k := memoKey(r, keys)
	m.mu.Lock()
	byInputs := m.entries[p]
	if byInputs == nil {
		byInputs = map[string]*memoEntry{}
		m.entries[p] = byInputs
	}
	e := byInputs[k]
	if e == nil {
		e = &memoEntry{}
		byInputs[k] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.d, e.by = eval() })
	return e.d, e.by
}

// memoKey encodes the inputs unambiguously (each string length-prefixed).
func memoKey(r *Request, keys awspolicy.Keys) string {
	var b strings.Builder
	put := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	put(r.Op)
	put(r.Key.ARN)
	put(r.Account.Partition)
	put(r.Account.ID)
	// The caller in full (%#v prints maps in key order), whatever its
	// representation.
	put(fmt.Sprintf("%#v", r.Caller))
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	put(strconv.Itoa(len(names)))
	for _, n := range names {
		put(n)
		put(strconv.Itoa(len(keys[n])))
		for _, v := range keys[n] {
			put(v)
		}
	}
	return b.String()
}
