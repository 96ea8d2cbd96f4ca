// Package mldsa is Go's own ML-DSA (FIPS 204), copied from the Go 1.26.8
// source tree (src/crypto/internal/fips140/mldsa, BSD licence in LICENSE),
// because no importable ML-DSA offers both signing and verifying with an
// external mu, which AWS's EXTERNAL_MU message type needs: circl computes mu
// itself, Go's package is internal, and filippo.io/mldsa only signs.
//
// Changes from upstream, all mechanical: the FIPS 140 hooks (self-test,
// pairwise consistency test, service indicator) are removed; the internal
// imports are replaced by their public counterparts (crypto/sha3,
// crypto/subtle, crypto/rand, encoding/binary); the CAST known answer is a
// test (TestExternalMuKAT). field_test.go and the ACVP rejection tests in
// mldsa_test.go are upstream's. Replace this package with crypto/mldsa once
// the Go release in use exports external-mu signing and verification.
package mldsa
