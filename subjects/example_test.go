package subjects_test

import (
	"errors"
	"fmt"

	"github.com/wsgate/wsgate/subjects"
)

func ExampleEscapeToken() {
	for _, v := range []string{"lobby", "a.b", "x.>", "two words", "café", "50%"} {
		tok, _ := subjects.EscapeToken(v)
		fmt.Println(tok)
	}
	_, err := subjects.EscapeToken("")
	fmt.Println(errors.Is(err, subjects.ErrEmptyValue))
	// Output:
	// lobby
	// a%2Eb
	// x%2E%3E
	// two%20words
	// café
	// 50%25
	// true
}

func ExampleTemplate_Expand() {
	tmpl, err := subjects.ParseTemplate("chat.rooms.{body.room}")
	if err != nil {
		panic(err)
	}
	body := map[string]string{"body.room": "lobby"}
	lookup := func(name string) (string, bool) { v, ok := body[name]; return v, ok }

	s, _ := tmpl.Expand(lookup)
	fmt.Println(s)

	// A hostile value stays inside its one token.
	body["body.room"] = "*.>"
	s, _ = tmpl.Expand(lookup)
	fmt.Println(s)

	delete(body, "body.room")
	_, err = tmpl.Expand(lookup)
	fmt.Println(err)
	// Output:
	// chat.rooms.lobby
	// chat.rooms.%2A%2E%3E
	// expand {body.room}: subjects: missing value
}
