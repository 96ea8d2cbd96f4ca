package kms

// AWS KMS operation names. They name key-state rules here, and later the
// operations that key policies and grants allow.
const (
	opCreateKey            = "CreateKey"
	opDescribeKey          = "DescribeKey"
	opEnableKey            = "EnableKey"
	opDisableKey           = "DisableKey"
	opScheduleKeyDeletion  = "ScheduleKeyDeletion"
	opCancelKeyDeletion    = "CancelKeyDeletion"
	opUpdateKeyDescription = "UpdateKeyDescription"
	opTagResource          = "TagResource"
	opUntagResource        = "UntagResource"
	opListResourceTags     = "ListResourceTags"
	opCreateAlias          = "CreateAlias"
	opUpdateAlias          = "UpdateAlias"
	opDeleteAlias          = "DeleteAlias"
	opListAliases          = "ListAliases"

	opEncrypt               = "Encrypt"
	opDecrypt               = "Decrypt"
	opReEncryptFrom         = "ReEncryptFrom"
	opReEncryptTo           = "ReEncryptTo"
	opSign                  = "Sign"
	opVerify                = "Verify"
	opGetPublicKey          = "GetPublicKey"
	opGenerateMac           = "GenerateMac"
	opVerifyMac             = "VerifyMac"
	opDeriveSharedSecret    = "DeriveSharedSecret"
	opGenerateDataKey       = "GenerateDataKey"
	opGenerateDataKeyWP     = "GenerateDataKeyWithoutPlaintext"
	opGenerateDataKeyPair   = "GenerateDataKeyPair"
	opGenerateDataKeyPairWP = "GenerateDataKeyPairWithoutPlaintext"
)

var (
	anyState    = []string{stateEnabled, stateDisabled, statePendingDeletion, statePendingImport}
	notDeleting = []string{stateEnabled, stateDisabled, statePendingImport}
)

// stateRules says, for each management operation, in which key states AWS
// allows it (AWS's "Key states of AWS KMS keys" table). Any operation not
// listed is a cryptographic operation and needs an Enabled key.
var stateRules = map[string][]string{
	opDescribeKey:          anyState,
	opListResourceTags:     anyState,
	opListAliases:          anyState,
	opDeleteAlias:          anyState,
	opEnableKey:            {stateEnabled, stateDisabled},
	opDisableKey:           {stateEnabled, stateDisabled},
	opScheduleKeyDeletion:  notDeleting,
	opCancelKeyDeletion:    {statePendingDeletion},
	opUpdateKeyDescription: notDeleting,
	opTagResource:          notDeleting,
	opUntagResource:        notDeleting,
	opCreateAlias:          notDeleting,
	opUpdateAlias:          notDeleting,
}

// checkState refuses an operation the key's state does not allow, with the
// exception AWS uses: DisabledException for a cryptographic operation on a
// disabled key, KMSInvalidStateException otherwise.
func checkState(e *keyEntry, op string) error {
	allowed, managed := stateRules[op]
	if !managed {
		switch e.State {
		case stateEnabled:
			return nil
		case stateDisabled:
			return newErr(excDisabled, "key '%s' is disabled", e.KeyID)
		}
		return errInvalidState("key '%s' is %s; %s needs an Enabled key", e.KeyID, e.State, op)
	}
	for _, s := range allowed {
		if s == e.State {
			return nil
		}
	}
	return errInvalidState("%s is not allowed on key '%s' in state %s", op, e.KeyID, e.State)
}
