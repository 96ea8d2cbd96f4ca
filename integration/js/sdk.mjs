// The AWS SDK for JavaScript v3 against vault-plugin-kms, set up as the
// README shows. Run by integration/aws_javascript_test.go; prints one JSON line.
import {
  KMSClient, CreateKeyCommand, EncryptCommand, DecryptCommand, DescribeKeyCommand, InvalidCiphertextException,
} from "@aws-sdk/client-kms";

const kms = new KMSClient({
  endpoint: `${process.env.VAULT_ADDR}/v1/${process.env.KMS_MOUNT ?? "kms"}/aws`,
  region: "us-east-1",
  credentials: { accessKeyId: "vault", secretAccessKey: "vault" }, // Vault does not check them
});
kms.middlewareStack.add(
  (next) => async (args) => {
    args.request.headers["X-Vault-Token"] = process.env.VAULT_TOKEN;
    return next(args);
  },
  { step: "build", name: "vaultToken" },
);

const context = { document: "js" };
const { KeyMetadata, $metadata: created } = await kms.send(new CreateKeyCommand({ Description: "from JavaScript" }));
const { CiphertextBlob } = await kms.send(new EncryptCommand({
  KeyId: KeyMetadata.KeyId, Plaintext: new TextEncoder().encode("hello from js"), EncryptionContext: context,
}));
const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }));
const errors = {};
for (const [name, cmd] of [
  ["missing", new DescribeKeyCommand({ KeyId: "alias/missing" })],
  ["noContext", new DecryptCommand({ CiphertextBlob })],
]) {
  try {
    await kms.send(cmd);
    errors[name] = "no error";
  } catch (e) {
    errors[name] = {
      name: e.name, status: e.$metadata?.httpStatusCode, requestId: e.$metadata?.requestId,
      typed: e instanceof InvalidCiphertextException,
    };
  }
}
console.log(JSON.stringify({
  arn: KeyMetadata.Arn,
  requestId: created.requestId,
  creationDateIsDate: KeyMetadata.CreationDate instanceof Date,
  creationDate: KeyMetadata.CreationDate.toISOString(),
  plaintext: new TextDecoder().decode(Plaintext),
  ciphertext: Buffer.from(CiphertextBlob).toString("base64"),
  errors,
}));
