package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/vault/api"
	"github.com/openkms/vault-plugin-kms/awsvault"
	"github.com/stretchr/testify/require"
)

// Helpers that take the client explicitly, for tests that talk to several
// Vault servers (the shared ones in harness_test.go use the dev server).

func cwrite(t *testing.T, c *api.Client, path string, data map[string]any) map[string]any {
	t.Helper()
	s, err := c.Logical().Write(path, data)
	require.NoError(t, err, "write %s on %s", path, c.Address())
	if s == nil {
		return nil
	}
	return s.Data
}

func cread(t *testing.T, c *api.Client, path string) map[string]any {
	t.Helper()
	s, err := c.Logical().Read(path)
	require.NoError(t, err, "read %s on %s", path, c.Address())
	require.NotNil(t, s, "read %s on %s", path, c.Address())
	return s.Data
}

func clist(t *testing.T, c *api.Client, path string) map[string]any {
	t.Helper()
	s, err := c.Logical().List(path)
	require.NoError(t, err, "list %s on %s", path, c.Address())
	if s == nil {
		return map[string]any{}
	}
	return s.Data
}

func cwriteErr(t *testing.T, c *api.Client, path string, data map[string]any, status int, exception string) {
	t.Helper()
	_, err := c.Logical().Write(path, data)
	requireAWSError(t, err, status, exception)
}

// newClient is an API client of its own for addr: no retries (a test
// counts failures itself) and, when noRedirects, 307s are returned as
// errors instead of followed.
func newClient(t *testing.T, addr, token string, noRedirects bool) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = "http://" + addr
	cfg.MaxRetries = 0
	cfg.Timeout = 10 * time.Second
	cfg.DisableRedirects = noRedirects
	c, err := api.NewClient(cfg)
	require.NoError(t, err)
	c.SetToken(token)
	return c
}

// awsClientAt is the AWS SDK for Go pointed at one Vault server.
func awsClientAt(addr, token string) *kms.Client {
	return kms.New(kms.Options{
		BaseEndpoint:     aws.String(awsvault.Endpoint("http://"+addr, "kms")),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("unused", "unused", ""),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{awsvault.Token(token)},
	})
}

// errRedirect is a 307 that the client did not follow: the API client
// reports a status below 400 as no error and no data.
type errRedirect struct{ location string }

func (e errRedirect) Error() string { return "HTTP 307 redirect to " + e.location }

// strictWrite is Logical().Write that reports a redirect or an empty
// answer as an error.
func strictWrite(c *api.Client, path string, data map[string]any) (map[string]any, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	resp, err := c.Logical().WriteRaw(path, body)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTemporaryRedirect {
		return nil, errRedirect{resp.Header.Get("Location")}
	}
	s, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, err
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("HTTP %d without data", resp.StatusCode)
	}
	return s.Data, nil
}

// statusOf returns the HTTP status of an API error, 0 if there was none.
func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// granteeOn sets up userpass on a cluster and logs in a user whose ACL
// allows every kms/ path, so that only key policies and grants decide; it
// returns the user's token and the entity name a policy or grant names.
func granteeOn(t *testing.T, c *api.Client, name string) (token, entityName string) {
	t.Helper()
	path := unique("userpass")
	require.NoError(t, c.Sys().EnableAuthWithOptions(path, &api.EnableAuthOptions{Type: "userpass"}))
	require.NoError(t, c.Sys().PutPolicy("kms-all", `path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }`))
	cwrite(t, c, "auth/"+path+"/users/"+name, map[string]any{"password": "pw", "token_policies": "kms-all"})
	login, err := c.Logical().Write("auth/"+path+"/login/"+name, map[string]any{"password": "pw"})
	require.NoError(t, err)
	ent := cread(t, c, "identity/entity/id/"+login.Auth.EntityID)
	return login.Auth.ClientToken, ent["name"].(string)
}

// dump reads everything the plugin knows about the given keys, and the
// key and alias lists, through c: what a failover must keep. Errors are
// recorded as their text, so that a refusal is compared like a value.
func dump(t *testing.T, c *api.Client, ids []string) map[string]any {
	t.Helper()
	out := map[string]any{}
	get := func(name, path string, list bool) {
		var s *api.Secret
		var err error
		if list {
			s, err = c.Logical().List(path)
		} else {
			s, err = c.Logical().Read(path)
		}
		switch {
		case err != nil:
			// From the status on: the URL names the server asked.
			msg := err.Error()
			out[name] = "error: " + msg[max(0, strings.Index(msg, "Code:")):]
		case s == nil:
			out[name] = nil
		default:
			out[name] = s.Data
		}
	}
	get("keys", "kms/keys", true)
	// Other keys' states are not ours to compare (a load may be using them).
	if m, ok := out["keys"].(map[string]any); ok {
		if info, ok := m["key_info"].(map[string]any); ok {
			for id := range info {
				if !slices.Contains(ids, id) {
					delete(info, id)
				}
			}
		}
	}
	get("aliases", "kms/aliases", true)
	for _, id := range ids {
		get(id+" describe", "kms/keys/"+id, false)
		get(id+" tags", "kms/keys/"+id+"/tags", false)
		get(id+" policy", "kms/keys/"+id+"/policy", false)
		get(id+" grants", "kms/keys/"+id+"/grants", true)
		get(id+" rotation", "kms/keys/"+id+"/rotation", false)
		get(id+" rotations", "kms/keys/"+id+"/rotations", true)
		get(id+" last usage", "kms/keys/"+id+"/last-usage", false)
	}
	// A sorted, canonical form: list order is not part of the state.
	b, err := json.Marshal(out)
	require.NoError(t, err)
	var canon map[string]any
	require.NoError(t, json.Unmarshal(b, &canon))
	return canon
}

// sealed is one recorded encryption: the blob decrypts to plaintext.
type sealed struct {
	blob, plaintext string
	context         map[string]any
}

func randomText() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return b64(b)
}

// loadResult is one request of a client load.
type loadResult struct {
	start, end time.Time
	err        error
}

// clientLoad runs workers that encrypt with keys and decrypt what they
// encrypted, through one server, until stop is closed; each pauses pause
// between requests and backs off 200 ms after a failure. Wrong plaintexts
// are reported on t.
type clientLoad struct {
	stop    chan struct{}
	done    chan struct{}
	results chan loadResult
	sealed  chan sealed
	all     []loadResult
	blobs   []sealed
}

func startLoad(t *testing.T, addr, token string, keys []string, workers int, pause time.Duration) *clientLoad {
	l := &clientLoad{stop: make(chan struct{}), done: make(chan struct{}),
		results: make(chan loadResult, 1<<16), sealed: make(chan sealed, 1<<16)}
	finished := make(chan struct{}, workers)
	for w := range workers {
		c := newClient(t, addr, token, true)
		go func() {
			defer func() { finished <- struct{}{} }()
			var mine []sealed
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				r := loadResult{start: time.Now()}
				if i%2 == 0 || len(mine) == 0 {
					pt := randomText()
					var d map[string]any
					d, r.err = strictWrite(c, "kms/encrypt/"+keys[(w+i)%len(keys)], map[string]any{"plaintext": pt})
					if r.err == nil {
						sl := sealed{blob: d["ciphertext_blob"].(string), plaintext: pt}
						mine = append(mine, sl)
						l.sealed <- sl
					}
				} else {
					want := mine[i%len(mine)]
					var d map[string]any
					d, r.err = strictWrite(c, "kms/decrypt", map[string]any{"ciphertext_blob": want.blob})
					if r.err == nil && d["plaintext"] != want.plaintext {
						t.Errorf("decrypt through %s returned another plaintext", addr)
					}
				}
				r.end = time.Now()
				l.results <- r
				if r.err != nil {
					time.Sleep(200 * time.Millisecond)
				} else {
					time.Sleep(pause)
				}
			}
		}()
	}
	go func() {
		for range workers {
			<-finished
		}
		close(l.done)
	}()
	return l
}

func (l *clientLoad) halt() {
	close(l.stop)
	<-l.done
	close(l.results)
	close(l.sealed)
	for r := range l.results {
		l.all = append(l.all, r)
	}
	for s := range l.sealed {
		l.blobs = append(l.blobs, s)
	}
	sort.Slice(l.all, func(i, j int) bool { return l.all[i].start.Before(l.all[j].start) })
}

// outage summarises the load around an event at t0: the failed requests
// by kind, and when service came back: the end of the first successful
// request that started after the last failure (or after t0 if none
// failed).
func (l *clientLoad) outage(t0 time.Time) (recovered time.Duration, failed int, kinds map[string]int) {
	kinds = map[string]int{}
	lastFail := t0
	for _, r := range l.all {
		if r.err == nil {
			continue
		}
		failed++
		kinds[errorKind(r.err)]++
		if r.end.After(lastFail) {
			lastFail = r.end
		}
	}
	for _, r := range l.all {
		if r.err == nil && !r.start.Before(lastFail) {
			return r.end.Sub(t0), failed, kinds
		}
	}
	return -1, failed, kinds
}

func errorKind(err error) string {
	if errors.As(err, new(errRedirect)) {
		return "HTTP 307"
	}
	if s := statusOf(err); s != 0 {
		return fmt.Sprintf("HTTP %d", s)
	}
	if strings.Contains(err.Error(), "connection refused") {
		return "connection refused"
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout") {
		return "timeout"
	}
	return "other: " + err.Error()
}
