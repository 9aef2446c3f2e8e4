package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wsgate/wsgate/auth"
)

// hashKey is `wsgate hash-key [KEY]`: it prints the sha256:<hex> form of an
// API key or admin token for the config file. Without an argument it reads
// the key from standard input, so it stays out of the shell history.
func hashKey(args []string) error {
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
		return errors.New("hash-key: one key at a time")
	}
	if len(key) < 32 {
		fmt.Fprintln(os.Stderr, "wsgate: warning: keys should be random and at least 32 characters long (try: openssl rand -base64 32)")
	}
	fmt.Println(auth.HashKey(key))
	return nil
}
