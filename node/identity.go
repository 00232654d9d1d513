package node

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/p2ptv/p2ptvd/internal/home"
)

// IdentityFile is the node's private key inside its home directory.
const IdentityFile = "identity.key"

// LoadIdentity reads the node's Ed25519 key from home, creating the home
// directory (0700) and the key (0600, written atomically) on first use.
func LoadIdentity(dir string) (crypto.PrivKey, error) {
	if dir == "" {
		return nil, errors.New("no home directory set")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("home %s: %w", dir, err)
	}
	path := filepath.Join(dir, IdentityFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("identity %s: %w", path, err)
		}
		if k.Type() != crypto.Ed25519 {
			return nil, fmt.Errorf("identity %s: key type %s, want Ed25519", path, k.Type())
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal identity: %w", err)
	}
	if err := home.WriteFileAtomic(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return k, nil
}

// channelKey converts a libp2p Ed25519 key into the standard library form
// that signs chunks; the two share the same 64-byte representation.
func channelKey(k crypto.PrivKey) (ed25519.PrivateKey, error) {
	if k == nil {
		return nil, errors.New("no private key")
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("key type %s, want Ed25519", k.Type())
	}
	raw, err := k.Raw()
	if err != nil {
		return nil, err
	}
	if len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("identity key is %d bytes, want an Ed25519 key of %d", len(raw), ed25519.PrivateKeySize)
	}
	return ed25519.PrivateKey(raw), nil
}
