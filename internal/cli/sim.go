package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

const simSynopsis = `sim [--listen ADDR] [--account ID --secret KEY] [--deliver-to URL --leads N ...]

Runs the SharpSpring simulator on ADDR until interrupted and prints its base
URL and credentials. With --deliver-to, it also plays LeadExec delivering
--leads generated leads to that webhook URL (as a running 'crmsync run'
would receive them), then keeps serving.`

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", simSynopsis, stderr)
	listen := fs.String("listen", "127.0.0.1:8091", "address of the SharpSpring simulator")
	account := fs.String("account", "1001", "SharpSpring account id")
	secret := fs.String("secret", "sim-secret", "SharpSpring secret key")
	noLimit := fs.Bool("no-rate-limit", false, "do not enforce 10 requests/second and 50,000/day")
	fields := fs.String("custom-field", "Favorite Color", "label of a custom lead field to create")
	deliverTo := fs.String("deliver-to", "", "webhook URL LeadExec delivers to (e.g. http://127.0.0.1:8080/webhooks/leadexec)")
	leads := fs.Int("leads", 100, "leads to deliver with --deliver-to")
	format := fs.String("format", "form", "delivery content type: form, json, query or xml")
	user := fs.String("basic-user", "", "Basic auth user for deliveries")
	pass := fs.String("basic-password", "", "Basic auth password for deliveries")
	bearer := fs.String("bearer-token", "", "Bearer token for deliveries")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	opts := sharpspringsim.Options{Accounts: map[string]string{*account: *secret}}
	if *noLimit {
		opts.RateLimitPerSecond, opts.DailyLimit = -1, -1
	}
	sim := sharpspringsim.New(opts)
	sys := sim.CreateField("lead", *fields, "text")
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "sharpspring: endpoint=%s/pubapi/v1.2/ account_id=%s secret_key=%s\n", base, *account, *secret)
	fmt.Fprintf(stdout, "sharpspring: custom field %q system_name=%s\n", *fields, sys)
	if *deliverTo != "" {
		s, err := leadexecsim.NewSender(leadexecsim.Delivery{URL: *deliverTo, Format: leadexecsim.Format(*format),
			BasicUser: *user, BasicPassword: *pass, BearerToken: *bearer, MaxRetries: 3, RetryDelay: time.Second})
		if err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 2
		}
		ok := 0
		for _, r := range s.DeliverAll(ctx, leadexecsim.GenerateLeads(*leads, time.Now().UnixNano(), []string{"FavoriteColor"}), 4) {
			if r.Delivered {
				ok++
			}
		}
		fmt.Fprintf(stdout, "leadexec: delivered %d of %d leads to %s\n", ok, *leads, *deliverTo)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return 0
}
