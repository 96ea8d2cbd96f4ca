package awspolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The corpus: testdata/corpus/*.json hold AWS's documented example
// policies, each with requests and the outcome AWS documents. A case is
// added by editing JSON only:
//
//	{"cases":[{"name":"...", "source":"<AWS doc URL>", "policy":{...},
//	  "malformed": true,            (optional: the policy must be refused)
//	  "requests":[{"name":"...",
//	    "caller":{"entity_id":"e1","entity_name":"Alice","groups":["payments"],
//	              "group_ids":["g1"],"entity_less":false,"metadata":{"k":"v"}},
//	    "action":"kms:Encrypt",
//	    "resource":"arn:aws:kms:...", (optional: corpusKeyARN)
//	    "keys":{"kms:EncryptionContext:Department":["IT"]},
//	    "expect":"Allow" | "Deny" | "NoDecision"}]}]}
//
// The account is AWS's example account, 111122223333 in partition aws.
// As the plugin does, the evaluator is also given, unless "keys" sets
// them: kms:CallerAccount (the account), aws:username and aws:PrincipalArn
// (arn:aws:iam::111122223333:user/<entity_name>) for a caller with a name,
// and aws:PrincipalTag/<k> for each metadata pair. An IAM user ARN names
// the entity of that name, a role ARN the members of the group of that
// name, the account root every caller (the README's principal table).

const corpusKeyARN = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var corpusAccount = Account{Partition: "aws", ID: "111122223333"}

type corpusFile struct {
	Cases []corpusCase `json:"cases"`
}

type corpusCase struct {
	Name      string          `json:"name"`
	Source    string          `json:"source"`
	Policy    json.RawMessage `json:"policy"`
	Malformed bool            `json:"malformed"`
	Requests  []corpusRequest `json:"requests"`
}

type corpusRequest struct {
	Name     string              `json:"name"`
	Caller   corpusCaller        `json:"caller"`
	Action   string              `json:"action"`
	Resource string              `json:"resource"`
	Keys     map[string][]string `json:"keys"`
	Expect   string              `json:"expect"`
}

type corpusCaller struct {
	EntityID   string            `json:"entity_id"`
	EntityName string            `json:"entity_name"`
	Groups     []string          `json:"groups"`
	GroupIDs   []string          `json:"group_ids"`
	EntityLess bool              `json:"entity_less"`
	Metadata   map[string]string `json:"metadata"`
}

func (c corpusCaller) caller() *Caller {
	return &Caller{EntityID: c.EntityID, EntityName: c.EntityName, GroupNames: c.Groups, GroupIDs: c.GroupIDs,
		EntityLess: c.EntityLess, Metadata: c.Metadata}
}

// keys are the request's condition keys, with those the plugin derives
// from the caller.
func (r corpusRequest) keys() Keys {
	k := Keys{}
	for n, vs := range r.Keys {
		k.Add(n, vs...)
	}
	derive := func(name, v string) {
		if _, set := k[strings.ToLower(name)]; !set && v != "" {
			k.Add(name, v)
		}
	}
	derive("kms:CallerAccount", corpusAccount.ID)
	if n := r.Caller.EntityName; n != "" {
		derive("aws:username", n)
		derive("aws:PrincipalArn", corpusAccount.IAM("user/"+n))
	}
	for n, v := range r.Caller.Metadata {
		derive("aws:PrincipalTag/"+n, v)
	}
	return k
}

var corpusDecisions = map[string]Decision{"Allow": Allow, "Deny": Deny, "NoDecision": NoDecision}

func loadCorpus(t *testing.T) map[string][]corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files (%v)", err)
	}
	out := map[string][]corpusCase{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields() // a misspelt field is an error, not a silent default
		var cf corpusFile
		if err := dec.Decode(&cf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(cf.Cases) == 0 {
			t.Fatalf("%s has no cases", f)
		}
		out[filepath.Base(f)] = cf.Cases
	}
	return out
}

func TestCorpus(t *testing.T) {
	names := map[string]bool{}
	for file, cases := range loadCorpus(t) {
		for _, c := range cases {
			id := file + ": " + c.Name
			if c.Name == "" || names[id] {
				t.Fatalf("%s: every case needs a unique name", id)
			}
			names[id] = true
			if !strings.HasPrefix(c.Source, "https://docs.aws.amazon.com/") {
				t.Errorf("%s: source %q is not an AWS documentation URL", id, c.Source)
			}
			t.Run(id, func(t *testing.T) { runCorpusCase(t, c) })
		}
	}
}

func runCorpusCase(t *testing.T, c corpusCase) {
	p, err := Parse(string(c.Policy), nil)
	if c.Malformed {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("the policy must be refused as malformed; Parse gave %v", err)
		}
		if len(c.Requests) > 0 {
			t.Fatal("a malformed case takes no requests")
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(c.Requests) == 0 {
		t.Fatal("a case needs requests (or malformed: true)")
	}
	for _, r := range c.Requests {
		want, ok := corpusDecisions[r.Expect]
		if !ok || r.Action == "" {
			t.Fatalf("%s: expect must be Allow, Deny or NoDecision and action is required", r.Name)
		}
		res := r.Resource
		if res == "" {
			res = corpusKeyARN
		}
		got, by := p.Evaluate(&Request{Caller: r.Caller.caller(), Action: r.Action, Resource: res, Account: corpusAccount, Keys: r.keys()})
		if got != want {
			t.Errorf("%s: %v (by %q), AWS documents %v", r.Name, got, by, want)
		}
	}
}
