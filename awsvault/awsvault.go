// Package awsvault points AWS SDK for Go v2 KMS clients at vault-plugin-kms:
// the endpoint of a mount's AWS protocol, and the middlewares that add the
// Vault token and, optionally, name the operation in the path.
//
//	client := kms.New(kms.Options{
//		BaseEndpoint: aws.String(awsvault.Endpoint(os.Getenv("VAULT_ADDR"), "kms")),
//		Region:       "us-east-1",
//		Credentials:  credentials.NewStaticCredentialsProvider("vault", "vault", ""),
//		APIOptions:   []func(*middleware.Stack) error{awsvault.Token(os.Getenv("VAULT_TOKEN"))},
//	})
package awsvault

import (
	"context"
	"strings"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Endpoint is the AWS endpoint of the plugin mounted at mount.
func Endpoint(vaultAddr, mount string) string {
	return strings.TrimSuffix(vaultAddr, "/") + "/v1/" + strings.Trim(mount, "/") + "/aws"
}

// Token adds X-Vault-Token to every request. Vault ignores the SDK's SigV4
// signature; the token's identity is the caller that Vault ACLs, key
// policies and grants see.
func Token(token string) func(*middleware.Stack) error {
	return buildStep("VaultToken", func(_ context.Context, req *smithyhttp.Request) {
		req.Header.Set("X-Vault-Token", token)
	})
}

// OperationInPath sends each operation to <endpoint>/<Operation>, so that a
// mount without the X-Amz-Target passthrough works and Vault ACLs can allow
// single operations. At the build step the request path is the one the SDK
// appends to the endpoint.
func OperationInPath(s *middleware.Stack) error {
	return buildStep("OperationInPath", func(ctx context.Context, req *smithyhttp.Request) {
		req.URL.Path = "/" + middleware.GetOperationName(ctx)
	})(s)
}

func buildStep(id string, f func(context.Context, *smithyhttp.Request)) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Build.Add(middleware.BuildMiddlewareFunc(id,
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					f(ctx, req)
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
	}
}
