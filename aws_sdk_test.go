package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/stretchr/testify/require"
)

// sdkTransport delivers the AWS SDK's HTTP requests to the backend the
// way Vault does (the JSON body decoded with numbers kept as json.Number,
// X-Amz-Target passed through) and turns the plugin's raw response back
// into HTTP. The SDK's own serializers and error decoders run unchanged.
type sdkTransport struct {
	tb     *testBackend
	entity string
}

func (s sdkTransport) Do(r *http.Request) (*http.Response, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return nil, err
		}
	}
	req := &logical.Request{Operation: logical.UpdateOperation, Path: "aws", Data: data, Storage: s.tb.storage, EntityID: s.entity,
		Headers: map[string][]string{"X-Amz-Target": {r.Header.Get("X-Amz-Target")}}}
	resp, err := s.tb.HandleRequest(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: resp.Data[logical.HTTPStatusCode].(int),
		Header:     http.Header{"Content-Type": {awsapi.ContentType}},
		Body:       io.NopCloser(bytes.NewReader(resp.Data[logical.HTTPRawBody].([]byte))),
		Request:    r,
	}, nil
}

// sdkClient is the AWS SDK for Go v2 talking to tb in process, as entity.
func (tb *testBackend) sdkClient(entity string) *awskms.Client {
	return awskms.New(awskms.Options{
		BaseEndpoint:     aws.String("http://vault.invalid/v1/kms/aws"),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("unused", "unused", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkTransport{tb: tb, entity: entity},
	})
}

// TestSDKTransport checks the in-process transport itself: a request and
// a typed error make the round trip.
func TestSDKTransport(t *testing.T) {
	tb := newTestBackend(t)
	c := tb.sdkClient("")
	out, err := c.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(12)})
	require.NoError(t, err)
	require.Len(t, out.Plaintext, 12)
	_, err = c.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	require.ErrorContains(t, err, "NotFoundException")
}
