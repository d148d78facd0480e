package memstore_test

import (
	"testing"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
	"chunkup/internal/upload/storetest"
)

// TestContract holds the in-memory stores to the ports' contract, the
// one the production stores are held to on dynalite and versitygw.
func TestContract(t *testing.T) {
	t.Run("Sessions", func(t *testing.T) {
		storetest.TestSessions(t, func(*testing.T) upload.Sessions { return memstore.NewSessions() })
	})
	t.Run("Blobs", func(t *testing.T) {
		storetest.TestBlobs(t, func(*testing.T) upload.Blobs { return memstore.NewBlobs() })
	})
}
