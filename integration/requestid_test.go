package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// An AWS SDK client reports the request id of every kms/aws call, and it
// is the request.id of that call's entry in Vault's audit log: an error a
// user pastes leads an operator to the audit record.
func TestAWSSDKRequestIDIsTheAuditRequestID(t *testing.T) {
	ctx := t.Context()
	logPath := filepath.Join(t.TempDir(), "audit.log")
	device := unique("reqid")
	require.NoError(t, dev.client.Sys().EnableAuditWithOptions(device, &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": logPath},
	}))
	t.Cleanup(func() { _ = dev.client.Sys().DisableAudit(device) })

	c := awsClient("kms", dev.token)
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("request id")})
	require.NoError(t, err)
	okID, ok := awsmiddleware.GetRequestIDMetadata(created.ResultMetadata)
	require.True(t, ok, "a success carries x-amzn-RequestId")
	require.NotEmpty(t, okID)

	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/" + unique("missing"))})
	requireAPIError[*types.NotFoundException](t, err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "%v", err)
	errID := re.ServiceRequestID()
	require.NotEmpty(t, errID, "the error names its request id: %v", err)
	require.Contains(t, err.Error(), "RequestID: "+errID)
	require.NotEqual(t, okID, errID)

	paths := auditPathsByRequestID(t, logPath)
	require.Equal(t, "kms/aws", paths[okID], "the audit log has CreateKey's request id")
	require.Equal(t, "kms/aws", paths[errID], "the audit log has DescribeKey's request id")
}

// auditPathsByRequestID reads a file audit log: request.id -> request.path
// of its response entries.
func auditPathsByRequestID(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Type    string `json:"type"`
			Request struct {
				ID   string `json:"id"`
				Path string `json:"path"`
			} `json:"request"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Type == "response" {
			out[e.Request.ID] = e.Request.Path
		}
	}
	require.NoError(t, sc.Err())
	return out
}
