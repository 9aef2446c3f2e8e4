package bridge

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestListConnections(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.dial("/", nil, nil)
	b := e.dial("/", nil, nil)
	get := func(path string) ConnList {
		t.Helper()
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var l ConnList
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
		}
		return l
	}
	l := get("/@connections")
	if l.Gateway != e.gw.ID() || len(l.Connections) != 2 {
		t.Fatalf("list %+v, want two connections of gateway %s", l, e.gw.ID())
	}
	if l.Connections[0].ConnectionID != a.id || l.Connections[1].ConnectionID != b.id {
		t.Errorf("order %s, %s; want oldest first: %s, %s", l.Connections[0].ConnectionID, l.Connections[1].ConnectionID, a.id, b.id)
	}
	if l := get("/@connections?protocol=nope"); len(l.Connections) != 0 {
		t.Errorf("filtered list %+v, want none", l)
	}
	resp, err := http.Get(e.srv.URL + "/admin/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rs struct{ Routes []RouteInfo }
	if err := json.NewDecoder(resp.Body).Decode(&rs); err != nil || rs.Routes == nil || len(rs.Routes) != 0 {
		t.Errorf("routes without Options.Routes: %+v, %v; want []", rs, err)
	}
}
