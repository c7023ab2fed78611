package ivvy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Vectors from spec §2.2 (the iVvy docs, plus one computed with openssl).
func TestSigningVectors(t *testing.T) {
	t.Run("content md5 of the docs body", func(t *testing.T) {
		if got := ContentMD5([]byte(`{"example":"body"}`)); got != "a09f600c77a6dbd947db24c61e8935ca" {
			t.Fatalf("md5 = %s", got)
		}
	})
	t.Run("content md5 of no body", func(t *testing.T) {
		if got := ContentMD5(nil); got != "d41d8cd98f00b204e9800998ecf8427e" {
			t.Fatalf("md5 = %s", got)
		}
	})
	t.Run("hmac of the docs string", func(t *testing.T) {
		if got := Signature("my secret key", "string to sign"); got != "a993876ea1218921a1c8551923473da7b310dfae" {
			t.Fatalf("hmac = %s", got)
		}
	})
	h := http.Header{}
	h.Set("IVVY-Date", "2012-04-03 22:23:24")
	h.Set("Content-Type", "application/json")
	sts := StringToSign(SigningInput{Method: "POST", ContentMD5: "a09f600c77a6dbd947db24c61e8935ca",
		ContentType: "application/json", RequestURI: "/api/1.0/test?action=ping", Headers: h})
	t.Run("string to sign of the docs ping", func(t *testing.T) {
		want := "posta09f600c77a6dbd947db24c61e8935caapplication/json/api/1.0/test?action=ping1.0ivvydate=2012-04-03 22:23:24"
		if sts != want {
			t.Fatalf("string to sign\n got %q\nwant %q", sts, want)
		}
	})
	t.Run("signature of the docs ping", func(t *testing.T) {
		if got := Signature("my secret key", sts); got != "74af7ec6fec55dc88543e05096c69cebaf391eb9" {
			t.Fatalf("signature = %s", got)
		}
	})
	t.Run("ivvy headers sorted, dashes and underscores stripped", func(t *testing.T) {
		h := http.Header{}
		h["Ivvy_Zeta"] = []string{"Z"}
		h.Set("IVVY-Date", "2012-04-03 22:23:24")
		h.Set("X-Other", "x")
		got := StringToSign(SigningInput{Method: "POST", Headers: h})
		if !strings.HasSuffix(got, "1.0ivvydate=2012-04-03 22:23:24&ivvyzeta=z") {
			t.Fatalf("got %q", got)
		}
	})
}

// TestClientSignsTheDocsPingByteForByte sends the docs' ping through the
// real client with the docs' date and key, and checks every signed header
// as received.
func TestClientSignsTheDocsPingByteForByte(t *testing.T) {
	var got http.Header
	var body []byte
	var uri string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, uri = r.Header.Clone(), r.RequestURI
		body, _ = io.ReadAll(r.Body)
		io.WriteString(w, `{"ack":"2012-04-03 22:23:25"}`)
	}))
	defer srv.Close()
	at := time.Date(2012, 4, 3, 22, 23, 24, 0, time.UTC)
	c, err := New(Config{Endpoint: srv.URL, APIKey: "my-key", APISecret: "my secret key", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(context.Background(), "test", "ping", map[string]string{"example": "body"}, nil); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"body":                string(body),
		"uri":                 uri,
		"Content-Type":        got.Get("Content-Type"),
		"Content-MD5":         got.Get("Content-MD5"),
		"IVVY-Date":           got.Get("IVVY-Date"),
		"X-Api-Authorization": got.Get("X-Api-Authorization"),
	}
	want := map[string]string{
		"body":                `{"example":"body"}`,
		"uri":                 "/api/1.0/test?action=ping",
		"Content-Type":        "application/json",
		"Content-MD5":         "a09f600c77a6dbd947db24c61e8935ca",
		"IVVY-Date":           "2012-04-03 22:23:24",
		"X-Api-Authorization": "IWS my-key:74af7ec6fec55dc88543e05096c69cebaf391eb9",
	}
	for k, w := range want {
		if checks[k] != w {
			// The authorization header holds a signature; name it only.
			t.Errorf("%s differs from the documented vector", k)
		}
	}
}

func TestContentTypeWithCharsetIsSignedAsSent(t *testing.T) {
	var ct, auth, md5, date string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, auth, md5, date = r.Header.Get("Content-Type"), r.Header.Get("X-Api-Authorization"), r.Header.Get("Content-MD5"), r.Header.Get("IVVY-Date")
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c, _ := New(Config{Endpoint: srv.URL, APIKey: "k", APISecret: "s", ContentType: "application/json; charset=utf-8"})
	if err := c.Call(context.Background(), "test", "ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	want := Signature("s", strings.ToLower("POST"+md5+"application/json; charset=utf-8/api/1.0/test?action=ping1.0ivvydate="+date))
	if ct != "application/json; charset=utf-8" || auth != "IWS k:"+want {
		t.Fatalf("content type %q; signature matches: %v", ct, auth == "IWS k:"+want)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // "" = ok; else part of the error
	}{
		{"region us", Config{Region: "us", APIKey: "k", APISecret: "TOPSECRET"}, ""},
		{"endpoint wins", Config{Endpoint: "http://127.0.0.1:1", Region: "nowhere", APIKey: "k", APISecret: "s"}, ""},
		{"unknown region", Config{Region: "mars", APIKey: "k", APISecret: "TOPSECRET"}, "region"},
		{"relative endpoint", Config{Endpoint: "api.ivvy.com", APIKey: "k", APISecret: "TOPSECRET"}, "absolute"},
		{"no secret", Config{Region: "au", APIKey: "k"}, "secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "TOPSECRET") {
				t.Fatal("error mentions the secret")
			}
			if tc.name == "region us" && c.base.Host != HostUS {
				t.Fatalf("host = %s", c.base.Host)
			}
		})
	}
}
