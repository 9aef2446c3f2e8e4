package jsonws

import (
	"strings"
	"testing"
	"time"
)

func TestReplyCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newReplyCache(30*time.Second, 3, 1<<20, false)
	c.now = func() time.Time { return now }
	if _, hit := c.get("a"); hit {
		t.Fatal("hit in an empty cache")
	}
	c.put("a", []byte("1"))
	if v, hit := c.get("a"); !hit || string(v) != "1" {
		t.Fatalf("get a = %q, %v", v, hit)
	}
	now = now.Add(29 * time.Second)
	if _, hit := c.get("a"); !hit {
		t.Error("expired before its ttl")
	}
	now = now.Add(time.Second)
	if _, hit := c.get("a"); hit {
		t.Error("served after its ttl")
	}
	if n, b := c.len(); n != 0 || b != 0 {
		t.Errorf("expired entry kept: %d entries, %d bytes", n, b)
	}
	// Entries: the least recently used goes first.
	for _, k := range []string{"a", "b", "c"} {
		c.put(k, []byte(k))
	}
	c.get("a")
	c.put("d", []byte("d"))
	if _, hit := c.get("b"); hit {
		t.Error("b, the least recently used, was kept over the bound of 3")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, hit := c.get(k); !hit {
			t.Errorf("%s evicted", k)
		}
	}
	// Replacing an entry keeps the byte count right.
	c.put("a", []byte("longer"))
	if n, b := c.len(); n != 3 || b != int64(len("a")+len("longer")+2+2) {
		t.Errorf("%d entries, %d bytes", n, b)
	}
}

func TestReplyCacheBytes(t *testing.T) {
	c := newReplyCache(time.Minute, 100, 100, false)
	c.put("big", []byte(strings.Repeat("x", 98))) // 101 bytes: more than the whole cache
	if _, hit := c.get("big"); hit {
		t.Error("an entry bigger than the cache was stored")
	}
	for i := range 10 {
		c.put(string(rune('a'+i)), []byte(strings.Repeat("x", 19))) // 20 bytes each
	}
	n, b := c.len()
	if n != 5 || b != 100 {
		t.Errorf("%d entries, %d bytes; want 5 and 100", n, b)
	}
	if _, hit := c.get("j"); !hit {
		t.Error("the newest entry was evicted")
	}
}

func TestCacheKey(t *testing.T) {
	c := benchConn(t, Config{Routes: map[string]RouteConfig{
		"q":      {Integration: kindRequest, Subject: "q", Cache: CacheConfig{TTL: time.Second, Key: "{body.a}{body.b}"}},
		"shared": {Integration: kindRequest, Subject: "q", Cache: CacheConfig{TTL: time.Second, Shared: true}},
	}})
	key := func(route, msg string) (string, bool) {
		b, _ := parseBody([]byte(msg))
		return c.cacheKey(c.p.cur().routes[route], b, b.raw)
	}
	k1, ok1 := key("q", `{"a":"x","b":"yz"}`)
	k2, ok2 := key("q", `{"a":"xy","b":"z"}`)
	if !ok1 || !ok2 || k1 == k2 {
		t.Errorf("values ran together: %q %q", k1, k2)
	}
	if k, ok := key("q", `{"a":"x"}`); ok {
		t.Errorf("a missing value made key %q", k)
	}
	if k3, _ := key("q", `{"b":"yz","a":"x","other":1}`); k3 != k1 {
		t.Errorf("same values, different key: %q %q", k3, k1)
	}
	s1, _ := key("shared", `{"n":1}`)
	s2, _ := key("shared", `{"n": 1}`)
	if s1 == s2 || !strings.Contains(s1, `{"n":1}`) {
		t.Errorf("payload keys %q %q", s1, s2)
	}
}

func TestCompileCacheErrors(t *testing.T) {
	for _, tc := range []struct {
		key  string
		rc   RouteConfig
		want string
	}{
		{"x", RouteConfig{Integration: kindPublish, Subject: "a", Cache: CacheConfig{TTL: time.Second}}, "routes.x.cache: only request and http"},
		{"x", RouteConfig{Integration: kindRequest, Subject: "a", Cache: CacheConfig{Key: "{body.a}"}}, "routes.x.cache.ttl: required"},
		{"x", RouteConfig{Integration: kindRequest, Subject: "a", Cache: CacheConfig{TTL: time.Second, MaxEntries: -1}}, "routes.x.cache.max_entries"},
		{"x", RouteConfig{Integration: kindRequest, Subject: "a", Cache: CacheConfig{TTL: time.Second, MaxBytes: -1}}, "routes.x.cache.max_bytes"},
		{"x", RouteConfig{Integration: kindRequest, Subject: "a", Cache: CacheConfig{TTL: time.Second, Key: "{nope}"}}, "routes.x.cache.key: unknown variable {nope}"},
		{"$connect", RouteConfig{Integration: kindRequest, Subject: "a", Cache: CacheConfig{TTL: time.Second}}, "routes.$connect.cache: not on $connect"},
	} {
		err := Config{Routes: map[string]RouteConfig{tc.key: tc.rc}}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
}

func TestStageVariables(t *testing.T) {
	cfg := Config{Routes: map[string]RouteConfig{
		"a": {Integration: kindPublish, Subject: "a.{stage.tenant}.{body.x}"},
		"h": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://h/{stage.path}?q={stage.q}",
			Query: map[string]string{"k": "{stage.k}"}, Headers: map[string]string{"Authorization": "Bearer {stage.token}"}},
			Cache: CacheConfig{TTL: time.Second, Key: "{stage.ck}"}},
		"t": {Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "t.{stage.target}"}}}},
	}}
	got := strings.Join(cfg.StageVariables(""), ",")
	if want := "ck,k,path,q,target,tenant,token"; got != want {
		t.Errorf("StageVariables = %s, want %s", got, want)
	}
	if v := (Config{}).StageVariables(""); len(v) != 0 {
		t.Errorf("built-in routes use %v", v)
	}
	cfg.Stages = map[string]StageRoutes{"prod": {Routes: map[string]RouteConfig{
		"a": {Integration: kindPublish, Subject: "a.{stage.region}"},
		"b": {Integration: kindPublish, Subject: "b"},
	}}}
	if got, want := strings.Join(cfg.StageVariables("prod"), ","), "ck,k,path,q,region,target,token"; got != want {
		t.Errorf("StageVariables(prod) = %s, want %s", got, want)
	}
	if got := strings.Join(cfg.StageVariables("test"), ","); got != "ck,k,path,q,target,tenant,token" {
		t.Errorf("StageVariables(test) = %s", got)
	}
}
