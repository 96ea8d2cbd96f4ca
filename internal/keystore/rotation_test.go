package keystore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRotationBackoff(t *testing.T) {
	require.Equal(t, time.Minute, rotationBackoff(1))
	require.Equal(t, 2*time.Minute, rotationBackoff(2))
	require.Equal(t, time.Hour, rotationBackoff(20))
}
