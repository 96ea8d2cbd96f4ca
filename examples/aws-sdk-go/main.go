// Command aws-sdk-go is envelope encryption with the AWS SDK for Go v2,
// against vault-plugin-kms instead of AWS KMS. Only the client set-up
// differs from an AWS program: the endpoint is the mount's aws path, and a
// middleware (awsvault.Token; the README shows its few lines) adds the
// Vault token, whose identity is the caller key policies and grants see.
//
//	VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root go run ./examples/aws-sdk-go
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/openkms/vault-plugin-kms/awsvault"
)

func main() {
	mount := os.Getenv("KMS_MOUNT")
	if mount == "" {
		mount = "kms"
	}
	client := kms.New(kms.Options{
		BaseEndpoint: aws.String(awsvault.Endpoint(os.Getenv("VAULT_ADDR"), mount)),
		Region:       "us-east-1",
		// The SDK insists on credentials; Vault does not look at them.
		Credentials: credentials.NewStaticCredentialsProvider("vault", "vault", ""),
		APIOptions:  []func(*middleware.Stack) error{awsvault.Token(os.Getenv("VAULT_TOKEN"))},
	})
	ctx := context.Background()

	// From here on this is an ordinary AWS KMS program.
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("example: envelope encryption")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("key:", aws.ToString(key.KeyMetadata.Arn))

	encryptionContext := map[string]string{"document": "invoice-42"}
	dataKey, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: key.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: encryptionContext,
	})
	if err != nil {
		log.Fatal(err)
	}
	nonce, sealed := seal(dataKey.Plaintext, []byte("total: 42 EUR"))
	clear(dataKey.Plaintext)
	// Store dataKey.CiphertextBlob, nonce and sealed; the plaintext key is gone.

	opened, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: encryptionContext})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("decrypted: %s\n", open(opened.Plaintext, nonce, sealed))

	// A wrong encryption context is refused, with the SDK's typed exception.
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dataKey.CiphertextBlob})
	var invalid *types.InvalidCiphertextException
	fmt.Println("without the context:", err != nil && errors.As(err, &invalid))
}

func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		log.Fatal(err)
	}
	return aead
}

func seal(key, plaintext []byte) (nonce, sealed []byte) {
	aead := gcm(key)
	nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		log.Fatal(err)
	}
	return nonce, aead.Seal(nil, nonce, plaintext, nil)
}

func open(key, nonce, sealed []byte) []byte {
	plaintext, err := gcm(key).Open(nil, nonce, sealed, nil)
	if err != nil {
		log.Fatal(err)
	}
	return plaintext
}
