package kms

import "github.com/openkms/vault-plugin-kms/internal/keystore"

// Key ids, alias names and grant ids are checked by the key store
// (internal/keystore/ids.go) before they reach a storage path.

var aliasPattern = keystore.AliasPattern

func checkKeyRef(id, alias string) error { return keystore.CheckKeyRef(id, alias) }

func checkGrantID(id string) error { return keystore.CheckGrantID(id) }
