package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wsgate/wsgate/auth"
)

// hashKeyCommand is `wsgate hash-key [--wampcra] [KEY]`: it prints the sha256:<hex>
// form of an API key or admin token for the config file. Without an
// argument it reads the key from standard input, so it stays out of the
// shell history.
func hashKeyCommand() *command {
	return &command{
		name:     "hash-key",
		synopsis: "hash-key [--wampcra] [KEY]",
		summary:  "print the sha256: hash of an API key or admin token",
		about: `Prints the sha256:<hex> form of KEY, for auth.authenticators[].api_keys.keys[].hash
or gateway.admin.token_hash. Without KEY it reads one line from standard
input, which keeps the key out of the shell history. A key that starts
with '-' goes after '--': wsgate hash-key -- -key.

With --wampcra it also prints the key's wampcra block (a fresh random
salt, PBKDF2-HMAC-SHA256), which lets WAMP clients authenticate with the
key by WAMP-CRA.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			cra := fs.Bool("wampcra", false, "also print a wampcra block for the key")
			iterations := fs.Int("iterations", 1000, "PBKDF2 iterations of the wampcra key")
			keyLen := fs.Int("keylen", 32, "length in bytes of the wampcra key")
			return func(stdout io.Writer) error { return hashKey(fs.Args(), stdout, *cra, *iterations, *keyLen) }
		},
	}
}

func hashKey(args []string, stdout io.Writer, cra bool, iterations, keyLen int) error {
	var key string
	switch len(args) {
	case 0:
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("hash-key: give the key as an argument or on standard input")
		}
		key = strings.TrimRight(line, "\r\n")
	case 1:
		key = args[0]
	default:
		return usagef("one key at a time")
	}
	if len(key) < 32 {
		fmt.Fprintln(os.Stderr, "wsgate: warning: keys should be random and at least 32 characters long (try: openssl rand -base64 32)")
	}
	if !cra {
		fmt.Fprintln(stdout, auth.HashKey(key))
		return nil
	}
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("hash-key: %w", err)
	}
	c := auth.WAMPCRA{Salt: base64.RawURLEncoding.EncodeToString(salt), Iterations: iterations, KeyLen: keyLen}
	derived, err := auth.DeriveCRAKey(key, c.Salt, iterations, keyLen)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "hash: %q\nwampcra: {salt: %s, iterations: %d, keylen: %d, key: %q}\n",
		auth.HashKey(key), c.Salt, iterations, keyLen, derived)
	return nil
}
