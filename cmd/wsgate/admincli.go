package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// adminClient talks to a gateway's operator endpoints for the connections
// and routes commands.
type adminClient struct {
	base  string // the gateway's URL, without a trailing slash
	token string // WSGATE_ADMIN_TOKEN; "" sends none
	http  *http.Client
}

// adminFlags are the flags the admin commands share.
type adminFlags struct {
	gateway string
	asJSON  bool
	timeout time.Duration
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("WSGATE_GATEWAY_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&f.gateway, "gateway", def, "the gateway's operator `URL`: its main port, or gateway.admin.listen (env WSGATE_GATEWAY_URL)")
	fs.BoolVar(&f.asJSON, "json", false, "print the gateway's JSON instead of a table")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up after `duration`")
}

func (f *adminFlags) client() adminClient {
	return adminClient{base: strings.TrimRight(f.gateway, "/"), token: os.Getenv("WSGATE_ADMIN_TOKEN"),
		http: &http.Client{Timeout: f.timeout}}
}

// do sends a request and returns the body of a 2xx answer; any other
// answer is an error with the gateway's message.
func (a adminClient) do(method, path string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		if resp.StatusCode == http.StatusUnauthorized && a.token == "" {
			msg += " (set WSGATE_ADMIN_TOKEN)"
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	return b, nil
}

// positionals parses args with fs, letting flags come before, between
// and after the positional arguments, which it returns.
func positionals(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// connectionInfo is what the table shows of a connection (bridge.ConnInfo
// as JSON).
type connectionInfo struct {
	ConnectionID string    `json:"connectionId"`
	Protocol     string    `json:"protocol"`
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	Identity     struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"identity"`
	Principal     string `json:"principal"`
	Gateway       string `json:"gateway"`
	Stage         string `json:"stage"`
	Subscriptions int    `json:"subscriptions"`
	MessagesIn    uint64 `json:"messagesIn"`
	MessagesOut   uint64 `json:"messagesOut"`
}

// connectionsCommand is `wsgate connections`.
func connectionsCommand() *command {
	return &command{
		name:     "connections",
		synopsis: "connections list [--cluster]|get ID|send ID [DATA]|close ID [--code N --reason R] [--gateway URL] [--json]",
		summary:  "list, inspect, message and close connections (the connection API)",
		about: `Uses the gateway's operator endpoints (/@connections) at --gateway with the
admin token from WSGATE_ADMIN_TOKEN (gateway.admin.token_hash is its hash).
  list         this gateway's open connections (--principal, --protocol filter;
               --cluster: every gateway's, at most 200 each)
  get ID       one connection, on whichever gateway of the cluster holds it
  send ID DATA delivers DATA (or standard input, without DATA or with -) to it
  close ID     closes it (--code 1000 or 3000-4999, --reason)
Tables by default; --json prints the gateway's JSON.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			var f adminFlags
			f.register(fs)
			principal := fs.String("principal", "", "list: only this principal's connections")
			protocol := fs.String("protocol", "", "list: only connections of this `protocol`")
			cluster := fs.Bool("cluster", false, "list: every gateway's connections, not only this one's")
			code := fs.Int("code", 0, "close: the close `code` (1000 or 3000-4999)")
			reason := fs.String("reason", "", "close: the close `reason`")
			return func(stdout io.Writer) error {
				args, err := positionals(fs, fs.Args())
				if err != nil {
					return usageError{err}
				}
				if len(args) == 0 {
					return usagef("connections: say list, get, send or close")
				}
				verb, args := args[0], args[1:]
				want := map[string]int{"list": 0, "get": 1, "send": 2, "close": 1}
				n, ok := want[verb]
				switch {
				case !ok:
					return usagef("connections: unknown verb %q: say list, get, send or close", verb)
				case verb == "send" && (len(args) < 1 || len(args) > 2), verb != "send" && len(args) != n:
					return usagef("connections %s: wrong number of arguments", verb)
				}
				a := f.client()
				switch verb {
				case "list":
					q := url.Values{}
					if *principal != "" {
						q.Set("principal", *principal)
					}
					if *protocol != "" {
						q.Set("protocol", *protocol)
					}
					if *cluster {
						q.Set("scope", "cluster")
					}
					path := "/@connections"
					if len(q) > 0 {
						path += "?" + q.Encode()
					}
					b, err := a.do("GET", path, nil)
					if err != nil {
						return err
					}
					if f.asJSON {
						_, err = stdout.Write(b)
						return err
					}
					var list struct {
						Connections []connectionInfo `json:"connections"`
						Complete    *bool            `json:"complete"` // --cluster's answer only
						Truncated   bool             `json:"truncated"`
					}
					if err := json.Unmarshal(b, &list); err != nil {
						return fmt.Errorf("gateway answer: %w", err)
					}
					if err := connectionTable(stdout, list.Connections); err != nil {
						return err
					}
					if list.Complete != nil && !*list.Complete {
						fmt.Fprintln(stdout, "(not every gateway answered in time)")
					}
					if list.Truncated {
						fmt.Fprintln(stdout, "(a gateway had more than 200: narrow with --principal or --protocol)")
					}
					return nil
				case "get":
					b, err := a.do("GET", "/@connections/"+url.PathEscape(args[0]), nil)
					if err != nil {
						return err
					}
					if f.asJSON {
						_, err = stdout.Write(b)
						return err
					}
					var c connectionInfo
					if err := json.Unmarshal(b, &c); err != nil {
						return fmt.Errorf("gateway answer: %w", err)
					}
					return connectionTable(stdout, []connectionInfo{c})
				case "send":
					var body io.Reader = os.Stdin
					if len(args) == 2 && args[1] != "-" {
						body = strings.NewReader(args[1])
					}
					if _, err := a.do("POST", "/@connections/"+url.PathEscape(args[0]), body); err != nil {
						return err
					}
					fmt.Fprintln(stdout, "sent")
					return nil
				default: // close
					q := url.Values{}
					if *code != 0 {
						q.Set("code", strconv.Itoa(*code))
					}
					if *reason != "" {
						q.Set("reason", *reason)
					}
					path := "/@connections/" + url.PathEscape(args[0])
					if len(q) > 0 {
						path += "?" + q.Encode()
					}
					if _, err := a.do("DELETE", path, nil); err != nil {
						return err
					}
					fmt.Fprintln(stdout, "closed")
					return nil
				}
			}
		},
	}
}

// connectionTable prints connections as a table.
func connectionTable(w io.Writer, cs []connectionInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROTOCOL\tPRINCIPAL\tSOURCE IP\tSTAGE\tGATEWAY\tCONNECTED\tSUBS\tIN\tOUT")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", c.ConnectionID, c.Protocol, dash(c.Principal),
			c.Identity.SourceIP, dash(c.Stage), c.Gateway, c.ConnectedAt.Format(time.RFC3339), c.Subscriptions,
			c.MessagesIn, c.MessagesOut)
	}
	return tw.Flush()
}

// dash stands in for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// routesCommand is `wsgate routes`.
func routesCommand() *command {
	return &command{
		name:     "routes",
		synopsis: "routes [--gateway URL] [--json]",
		summary:  "list the JSON routes a running gateway serves",
		about: `Lists the JSON protocol's routes as the gateway at --gateway serves them
now (after any reload), each stage's own after the shared ones, from
GET /admin/routes with the admin token from WSGATE_ADMIN_TOKEN.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			var f adminFlags
			f.register(fs)
			return func(stdout io.Writer) error {
				if fs.NArg() > 0 {
					return usagef("unexpected argument %q", fs.Arg(0))
				}
				b, err := f.client().do("GET", "/admin/routes", nil)
				if err != nil {
					return err
				}
				if f.asJSON {
					_, err = stdout.Write(b)
					return err
				}
				var rs struct {
					Routes []struct {
						Stage, Key, Integration, Target string
					} `json:"routes"`
				}
				if err := json.Unmarshal(b, &rs); err != nil {
					return fmt.Errorf("gateway answer: %w", err)
				}
				if len(rs.Routes) == 0 {
					return errors.New("the gateway lists no routes")
				}
				tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "STAGE\tROUTE\tINTEGRATION\tTARGET")
				for _, r := range rs.Routes {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(r.Stage), r.Key, dash(r.Integration), r.Target)
				}
				return tw.Flush()
			}
		},
	}
}
