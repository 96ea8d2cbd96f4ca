package integration

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/vault/api"
	"github.com/openkms/vault-plugin-kms/awsvault"
	"github.com/stretchr/testify/require"
)

// A Vault rate-limit quota on the mount refuses a request with HTTP 429
// before the plugin runs. What the AWS SDK for Go v2 makes of it: an
// unmodeled error (Vault's body has no __type), which the standard retryer
// of aws-sdk-go-v2 v1.48.0 and later retries as a throttling error.
func TestAWSSDKUnderARateLimitQuota(t *testing.T) {
	ctx := t.Context()
	mount := unique("kms-quota")
	require.NoError(t, dev.client.Sys().Mount(mount, &api.MountInput{Type: pluginName, Config: kmsMountConfig()}))
	t.Cleanup(func() { _ = dev.client.Sys().Unmount(mount) })
	quota := "sys/quotas/rate-limit/" + mount
	write(t, quota, map[string]any{"path": mount + "/", "rate": 1, "interval": "1s"})
	t.Cleanup(func() { _, _ = dev.client.Logical().Delete(quota) })

	client := func(attempts int) *kms.Client {
		return kms.New(kms.Options{
			BaseEndpoint:     aws.String(awsvault.Endpoint("http://"+dev.addr, mount)),
			Region:           "us-east-1",
			Credentials:      credentials.NewStaticCredentialsProvider("unused", "unused", ""),
			RetryMaxAttempts: attempts,
			APIOptions:       []func(*middleware.Stack) error{awsvault.Token(dev.token)},
		})
	}

	// Without retries, a second call within the second is refused (a
	// third try covers the first two straddling the quota's interval).
	once := client(1)
	created, err := once.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	keyID := created.KeyMetadata.KeyId
	for range 3 {
		if _, err = once.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: keyID}); err != nil {
			break
		}
	}
	require.Error(t, err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, http.StatusTooManyRequests, re.HTTPStatusCode())
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, "UnknownError", apiErr.ErrorCode(), "Vault's 429 names no AWS exception")
	require.Empty(t, re.ServiceRequestID(), "Vault refused the request before the plugin ran")
	t.Logf("the SDK without retries reports: %v", err)

	// The standard retryer backs off and gets through.
	retrying := client(5)
	retried := 0
	start := time.Now()
	for range 3 {
		out, err := retrying.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: keyID})
		require.NoError(t, err, "the standard retryer retries a 429")
		attempts, ok := retry.GetAttemptResults(out.ResultMetadata)
		require.True(t, ok)
		for _, a := range attempts.Results {
			if a.Err != nil {
				require.True(t, errors.As(a.Err, &re), "%v", a.Err)
				require.Equal(t, http.StatusTooManyRequests, re.HTTPStatusCode())
				require.True(t, a.Retryable)
				retried++
			}
		}
	}
	require.Positive(t, retried, "three calls at a rate of 1/s: some were refused and retried")
	t.Logf("3 calls at 1/s with the standard retryer: %d retried attempts, %s", retried, time.Since(start).Round(10*time.Millisecond))
}
