package integration

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentMixedClients runs 8 clients for 20 s against a few keys,
// each picking create, rotate, enable, disable, encrypt, decrypt, grant
// and retire at random. Afterwards every ciphertext a client was given
// decrypts, and each key's current version is its rotations plus one.
func TestConcurrentMixedClients(t *testing.T) {
	const clients, keysN = 8, 4
	duration := 20 * time.Second
	if testing.Short() {
		duration = 3 * time.Second
	}
	var mu sync.Mutex
	keys := []string{}
	rotations := map[string]int{}
	var blobs []sealed
	counts := map[string]int{}
	for range keysN {
		id := createKey(t, nil)
		keys = append(keys, id)
	}
	pick := func(r *rand.Rand) string {
		mu.Lock()
		defer mu.Unlock()
		return keys[r.IntN(len(keys))]
	}
	// Refusals the key states make legitimate; anything else fails.
	expected := func(err error) bool {
		for _, e := range []string{"DisabledException", "LimitExceededException"} {
			if strings.Contains(err.Error(), e+": ") {
				return true
			}
		}
		return false
	}
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			c := newClient(t, dev.addr, dev.token, false)
			var mine []sealed
			for time.Now().Before(stop) {
				op := []string{"create", "rotate", "enable", "disable", "encrypt", "encrypt", "decrypt", "decrypt", "grant"}[r.IntN(9)]
				id := pick(r)
				var err error
				switch op {
				case "create":
					mu.Lock()
					enough := len(keys) >= 2*keysN // a few keys, so that clients collide
					mu.Unlock()
					if enough {
						op = "encrypt"
						break
					}
					var d map[string]any
					if d, err = strictWrite(c, "kms/keys", map[string]any{"description": "concurrent"}); err == nil {
						mu.Lock()
						keys = append(keys, d["key_id"].(string))
						mu.Unlock()
					}
				case "rotate":
					if _, err = strictWrite(c, "kms/keys/"+id+"/rotate", nil); err == nil {
						mu.Lock()
						rotations[id]++
						mu.Unlock()
					}
				case "enable", "disable":
					_, err = strictWrite(c, "kms/keys/"+id+"/"+op, nil)
				case "grant":
					var g map[string]any
					if g, err = strictWrite(c, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": fmt.Sprintf("entity_name:c%d", w), "operations": "Encrypt,Decrypt"}); err == nil {
						op = "grant+retire"
						_, err = c.Logical().Write("kms/grants/retire", map[string]any{"grant_token": g["grant_token"]})
					}
				}
				switch op {
				case "encrypt":
					pt := randomText()
					var d map[string]any
					if d, err = strictWrite(c, "kms/encrypt/"+id, map[string]any{"plaintext": pt}); err == nil {
						mine = append(mine, sealed{blob: d["ciphertext_blob"].(string), plaintext: pt})
					}
				case "decrypt":
					if len(mine) == 0 {
						continue
					}
					s := mine[r.IntN(len(mine))]
					var d map[string]any
					if d, err = strictWrite(c, "kms/decrypt", map[string]any{"ciphertext_blob": s.blob}); err == nil && d["plaintext"] != s.plaintext {
						err = fmt.Errorf("decrypt returned another plaintext")
					}
				}
				mu.Lock()
				if err == nil {
					counts[op]++
				} else if expected(err) {
					counts[op+" refused"]++
				}
				mu.Unlock()
				if err != nil && !expected(err) {
					errs <- fmt.Errorf("%s on %s: %w", op, id, err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			mu.Lock()
			blobs = append(blobs, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d clients for %s: %v", clients, duration, counts)

	for _, id := range keys {
		write(t, "kms/keys/"+id+"/enable", nil)
		require.Equal(t, fmt.Sprint(rotations[id]+1), fmt.Sprint(read(t, "kms/keys/"+id).Data["current_key_version"]), "key %s", id)
	}
	for _, s := range blobs {
		require.Equal(t, s.plaintext, write(t, "kms/decrypt", map[string]any{"ciphertext_blob": s.blob}).Data["plaintext"])
	}
	require.NotEmpty(t, blobs)
	t.Logf("%d keys, %d rotations, %d ciphertexts decrypted", len(keys), sumValues(rotations), len(blobs))
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
