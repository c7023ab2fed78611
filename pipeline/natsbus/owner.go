package natsbus

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crmsync/crmsync/internal/filelock"
)

// The embedded server's store belongs to one process at a time: the first
// crmsync process on a data dir takes an exclusive lock, runs the server on
// a loopback port with a random token, and writes where to reach it into
// endpointFile (mode 0600). Other crmsync commands on the same data dir
// (replay, checkpoint save) find the lock taken and connect to that server
// as ordinary clients, instead of opening the same files twice.
const (
	lockFile     = ".crmsync.lock"
	endpointFile = ".crmsync-endpoint.json"
)

type endpoint struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// ErrStoreBusy means another process owns the embedded store and did not
// leave a usable endpoint.
var ErrStoreBusy = errors.New("embedded nats: the data dir's store is used by another process")

// storeLock takes the store's exclusive lock without waiting. ok is false
// when another process holds it.
func storeLock(dir string) (f *os.File, ok bool, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, false, err
	}
	return filelock.TryLock(filepath.Join(dir, lockFile))
}

func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeEndpoint(dir string, e endpoint) error {
	b, _ := json.Marshal(e)
	tmp := filepath.Join(dir, endpointFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, endpointFile))
}

func readEndpoint(dir string) (endpoint, error) {
	var e endpoint
	b, err := os.ReadFile(filepath.Join(dir, endpointFile))
	if err != nil {
		return e, fmt.Errorf("%w: %v", ErrStoreBusy, err)
	}
	if err := json.Unmarshal(b, &e); err != nil || e.URL == "" {
		return e, fmt.Errorf("%w: unreadable %s", ErrStoreBusy, endpointFile)
	}
	return e, nil
}
