package sharpspring

import (
	"context"
	"maps"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func simClient(t *testing.T, opts sharpspringsim.Options, account string) (*Client, *sharpspringsim.Server) {
	t.Helper()
	if opts.Accounts == nil {
		opts.Accounts = map[string]string{"1001": secret, "2002": secret, "3003": secret}
	}
	opts.RateLimitPerSecond = -1
	sim := sharpspringsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	c, err := New(Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: account, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return c, sim
}

func TestClientRoundTrip(t *testing.T) {
	c, sim := simClient(t, sharpspringsim.Options{ClientsHasMoreTrue: true}, "1001")
	ctx := context.Background()
	fields := map[string]string{
		"companyName": "Acme Agency Client", "salesPhone": "+1 555 0100", "country": "US", "locale": "en_US",
		"salesStartHour": "8", "salesEndHour": "24", "hideGoogleAdWords": "1",
		"userEmail": "owner@acme.example", "userPassword": "pw-not-logged", "userDisplayName": "Owner",
	}
	if e := ValidateClient(fields, true); e != nil {
		t.Fatal(e)
	}
	created, err := c.CreateClient(ctx, ClientObject(fields))
	if err != nil || created.ID == 0 || created.UserID == 0 {
		t.Fatalf("%+v %v", created, err)
	}
	if err := c.UpdateClient(ctx, created.ID, ClientObject(map[string]string{"city": "Austin", "salesEndHour": "18"})); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateAccountSendLimit(ctx, created.ID, 2500); err != nil {
		t.Fatal(err)
	}
	if err := c.DisableAccountSending(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	got := sim.Clients()[0]
	if got.Fields["city"] != "Austin" || got.Fields["salesEndHour"] != "18" || got.Fields["hideGoogleAdWords"] != "1" ||
		got.EmailLimit == nil || *got.EmailLimit != 2500 || got.SendingEnabled || got.UserEmail != "owner@acme.example" {
		t.Fatalf("stored %+v", got)
	}
	if err := c.EnableAccountSending(ctx, created.ID); err != nil || !sim.Clients()[0].SendingEnabled {
		t.Fatalf("enable: %v", err)
	}
	list, err := c.GetClients(ctx)
	if err != nil || len(list) != 1 || list[0].ID() != created.ID || list[0]["city"] != "Austin" || list[0]["companyName"] != "Acme Agency Client" {
		t.Fatalf("getClients %v %v", list, err)
	}
	if _, ok := list[0]["state"]; ok {
		t.Fatal("an unset field read as a value")
	}
}

func TestClientErrorsFromTheSimulator(t *testing.T) {
	ok := map[string]any{"companyName": "C", "salesPhone": "1"}
	with := func(extra map[string]any) map[string]any {
		m := maps.Clone(ok)
		maps.Copy(m, extra)
		return m
	}
	// create and update are the calls of the cases that need no set-up.
	create := func(fields map[string]any) func(context.Context, *Client, *sharpspringsim.Server) error {
		return func(ctx context.Context, c *Client, _ *sharpspringsim.Server) error {
			_, err := c.CreateClient(ctx, fields)
			return err
		}
	}
	update := func(fields map[string]any) func(context.Context, *Client, *sharpspringsim.Server) error {
		return func(ctx context.Context, c *Client, _ *sharpspringsim.Server) error {
			return c.UpdateClient(ctx, 42, fields)
		}
	}
	cases := []struct {
		name    string
		opts    sharpspringsim.Options
		account string
		call    func(ctx context.Context, c *Client, sim *sharpspringsim.Server) error
		code    int
	}{
		{"305 not a reseller", sharpspringsim.Options{Resellers: map[string]bool{"2002": true}}, "1001",
			func(ctx context.Context, c *Client, _ *sharpspringsim.Server) error {
				_, err := c.GetClients(ctx)
				return err
			}, 305},
		{"305 create by a non-reseller", sharpspringsim.Options{Resellers: map[string]bool{"2002": true}}, "1001", create(ok), 305},
		{"206 salesPhone missing", sharpspringsim.Options{}, "1001", create(map[string]any{"companyName": "C"}), 206},
		{"215 country", sharpspringsim.Options{}, "1001", create(with(map[string]any{"country": "USA"})), 215},
		{"223 incomplete user", sharpspringsim.Options{}, "1001", create(with(map[string]any{"userEmail": "a@b.example"})), 223},
		{"218 user email", sharpspringsim.Options{}, "1001", create(with(map[string]any{"userEmail": "nobody", "userPassword": "p", "userDisplayName": "N"})), 218},
		{"221 user email in use", sharpspringsim.Options{}, "1001",
			func(ctx context.Context, c *Client, _ *sharpspringsim.Server) error {
				u := map[string]any{"userEmail": "a@b.example", "userPassword": "p", "userDisplayName": "N"}
				if _, err := c.CreateClient(ctx, with(u)); err != nil {
					return err
				}
				_, err := c.CreateClient(ctx, with(u))
				return err
			}, 221},
		{"307 update unknown", sharpspringsim.Options{}, "1001", update(map[string]any{"city": "X"}), 307},
		{"216 update unknown", sharpspringsim.Options{UpdateClientNotFoundCode: 216}, "1001", update(map[string]any{"city": "X"}), 216},
		{"307 send limit unknown", sharpspringsim.Options{}, "1001",
			func(ctx context.Context, c *Client, _ *sharpspringsim.Server) error {
				return c.UpdateAccountSendLimit(ctx, 42, 10)
			}, 307},
		{"306 another agency's client", sharpspringsim.Options{}, "1001",
			func(ctx context.Context, c *Client, sim *sharpspringsim.Server) error {
				return c.DisableAccountSending(ctx, sim.SeedClient("2002", map[string]string{"companyName": "Theirs"}))
			}, 306},
		{"307 inactive client", sharpspringsim.Options{}, "1001",
			func(ctx context.Context, c *Client, sim *sharpspringsim.Server) error {
				id := sim.SeedClient("", map[string]string{"companyName": "Gone"})
				sim.SetClientActive(id, false)
				return c.EnableAccountSending(ctx, id)
			}, 307},
		{"304 no clientID", sharpspringsim.Options{}, "1001",
			func(ctx context.Context, c *Client, _ *sharpspringsim.Server) error {
				return c.update(ctx, "enableAccountSending", map[string]any{})
			}, 304},
		{"205 locale", sharpspringsim.Options{}, "1001", create(with(map[string]any{"locale": "en_GB"})), 205},
		{"205 companyName on update", sharpspringsim.Options{}, "1001",
			func(ctx context.Context, c *Client, sim *sharpspringsim.Server) error {
				return c.UpdateClient(ctx, sim.SeedClient("", map[string]string{"companyName": "A"}), map[string]any{"companyName": "B"})
			}, 205},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, sim := simClient(t, tc.opts, tc.account)
			err := tc.call(context.Background(), c, sim)
			var code int
			if e, ok := err.(*Error); ok {
				code = e.Code
			}
			if code != tc.code || apierr.Classify(err) != apierr.Permanent {
				t.Fatalf("err = %v (code %d, %v), want permanent %d", err, code, apierr.Classify(err), tc.code)
			}
		})
	}
}

func TestValidateClient(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"companyName": "C", "salesPhone": "1"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		fields map[string]string
		create bool
		code   int
	}{
		{"valid", base("country", "GB", "locale", "de_DE", "salesStartHour", "0", "salesEndHour", "24"), true, 0},
		{"UK as documented", base("country", "UK"), true, 0},
		{"no company", map[string]string{"salesPhone": "1"}, true, 206},
		{"no phone", map[string]string{"companyName": "C"}, true, 206},
		{"blank phone", base("salesPhone", " "), true, 206},
		{"lower-case country", base("country", "us"), true, 215},
		{"alpha-3 country", base("country", "USA"), true, 215},
		{"locale", base("locale", "en_GB"), true, 205},
		{"hour 25", base("salesEndHour", "25"), true, 205},
		{"hour -1", base("salesStartHour", "-1"), true, 205},
		{"hour text", base("salesStartHour", "nine"), true, 205},
		{"flag", base("hideGoogleAdWords", "yes"), true, 205},
		{"unknown key", base("fax", "1"), true, 205},
		{"partial user", base("userEmail", "a@b.example"), true, 223},
		{"user email", base("userEmail", "a", "userPassword", "p", "userDisplayName", "n"), true, 218},
		{"update without company", map[string]string{"city": "X"}, false, 0},
		{"update company", map[string]string{"companyName": "X"}, false, 205},
		{"update clears phone", map[string]string{"salesPhone": ""}, false, 205},
		{"update country", map[string]string{"country": "ZZ"}, false, 215},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ValidateClient(tc.fields, tc.create)
			switch {
			case tc.code == 0 && e != nil:
				t.Fatalf("refused: %v", e)
			case tc.code != 0 && (e == nil || e.Code != tc.code):
				t.Fatalf("got %v, want code %d", e, tc.code)
			case e != nil && !strings.Contains(e.Error(), "crmsync"):
				t.Fatalf("message does not say who refused: %v", e)
			}
		})
	}
}

func TestCreateClientResultShapes(t *testing.T) {
	cases := []struct {
		name string
		body string
		id   int64
		code int
	}{
		{"flat", `{"result":{"status":true,"error":[],"userID":null,"id":77},"error":[],"id":"x"}`, 77, 0},
		{"flat strings", `{"result":{"status":"1","error":null,"userID":"5","id":"78"},"error":null,"id":"x"}`, 78, 0},
		{"creates list", `{"result":{"creates":[{"success":true,"error":null,"id":79}]},"error":[],"id":"x"}`, 79, 0},
		{"one-element list", `{"result":[{"status":true,"id":80}],"error":[],"id":"x"}`, 80, 0},
		{"status false with error array", `{"result":{"status":false,"error":[{"code":215,"message":"Invalid country code"}],"id":null},"error":[],"id":"x"}`, 0, 215},
		{"creates failure", `{"result":{"creates":[{"success":false,"error":{"code":221,"message":"in use"}}]},"error":[{"code":221}],"id":"x"}`, 0, 221},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rawServer(t, 200, tc.body).CreateClient(context.Background(), map[string]any{"companyName": "C", "salesPhone": "1"})
			if tc.code != 0 {
				e, ok := err.(*Error)
				if !ok || e.Code != tc.code {
					t.Fatalf("err = %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil || got.ID != tc.id {
				t.Fatalf("%+v %v", got, err)
			}
		})
	}
}
