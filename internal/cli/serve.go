package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/analyze"
	"github.com/bugcheck/bugcheck/server"
	"github.com/bugcheck/bugcheck/server/store"
)

// defaultDataDir is where serve keeps its state unless told otherwise.
const defaultDataDir = "bugcheck-data"

// serveFlags are the analysis flags serve and reanalyze share.
type serveFlags struct {
	data    string
	db      string
	blobs   string
	workers int
	images  []string
	symPath string
	offline bool
}

func (f *serveFlags) add(c *cobra.Command) {
	// Persistent, so that serve's token subcommands take it too.
	c.PersistentFlags().StringVar(&f.data, "data", defaultDataDir, "folder of the server's database and stored dumps")
	c.PersistentFlags().StringVar(&f.db, "db", "", "PostgreSQL URL (postgres://user@host/db) shared by several servers, instead of SQLite in --data")
	c.PersistentFlags().StringVar(&f.blobs, "blobs", "", "bucket URL (s3://bucket?region=R&endpoint=URL&use_path_style=true) for the dumps, instead of --data")
	c.Flags().IntVar(&f.workers, "workers", 0, "dumps analysed at once (0: one per CPU)")
	c.Flags().StringArrayVar(&f.images, "images", nil, "folder of driver images and PDBs, plain or a symbol-store tree (repeatable)")
	c.Flags().StringVar(&f.symPath, "symbol-path", "", "symbol path in _NT_SYMBOL_PATH syntax")
	c.Flags().BoolVar(&f.offline, "offline", false, "never download from symbol servers")
}

// open opens the data folder and the analysis options; the returned
// function closes both.
func (f *serveFlags) open(ctx context.Context) (*server.Data, analyze.Options, func(), error) {
	d, err := f.openData(ctx)
	if err != nil {
		return nil, analyze.Options{}, nil, err
	}
	opt := analyze.Options{}
	st := newStore(f.images, f.symPath, f.offline)
	if st != nil {
		opt.Images, opt.Symbols, opt.Versions = st, st, st
	}
	return d, opt, func() {
		if st != nil {
			st.Close()
		}
		d.Close()
	}, nil
}

// config is the server configuration serve and reanalyze share: the
// stores, the workers, and the lease a shared database needs.
func (f *serveFlags) config(d *server.Data, opt analyze.Options, log *slog.Logger) server.Config {
	cfg := server.Config{Store: d.Store, Blobs: d.BlobStore, TempDir: d.TempDir, Workers: f.workers, Analyze: opt, Logger: log}
	if d.Shared {
		cfg.Lease = sharedLease
	}
	return cfg
}

// openData opens the state the flags name.
func (f *serveFlags) openData(ctx context.Context) (*server.Data, error) {
	return server.OpenDataWith(ctx, f.data, server.DataOptions{DB: f.db, Blobs: f.blobs})
}

// sharedLease is the job lease on a database several servers share: a
// dead server's jobs wait this long for another to take them (a server
// alone on its database takes them back when it starts).
const sharedLease = time.Minute

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	var sf serveFlags
	var listen string
	var maxUpload int64
	var anonRead bool
	var dumpRole string
	var rateUpload, rateLogin, rateAPI float64
	var proxies []string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the crash collection server: upload API, analysis workers, web pages",
		Long: `serve collects crash dumps from many machines. Machines upload dumps (or .zip, .cab and .dmp.gz
archives of them) to POST /api/v1/dumps, or with 'bugcheck upload'; background workers analyse them
and the web pages and the JSON API (docs/openapi.yaml) show crashes per day, buckets, drivers,
machines and every crash's full report.

State lives in --data (default ./bugcheck-data): an SQLite database and the uploaded files. Several
servers behind a load balancer share state with --db postgres://user@host/db (password from
$PGPASSWORD or ~/.pgpass; the schema is created and migrated on start) and --blobs s3://bucket?region=R
(S3-compatible stores: add endpoint=http://host:9000&use_path_style=true; credentials from the AWS
environment); any of them takes uploads and analyses them. --data then holds only staging files. On the
first start serve creates an admin token and prints it once; make upload tokens with
'bugcheck serve token add NAME --role upload' or POST /api/v1/tokens. Reading is open to anyone
who can reach the server unless --anonymous-read=false; it listens on 127.0.0.1 by default. People
sign in to the pages at /login with a token (sessions last 12 hours); admins manage tokens at /admin.
The original dump of a crash downloads from GET /api/v1/crashes/{sha}/dump or the crash page's link,
for upload and admin tokens by default (--dump-role: a dump holds the machine's memory). Each client
(token, else IP address) has per-minute budgets for uploads, failed sign-ins and other requests
(--rate-upload, --rate-login, --rate-api); over a budget the server answers 429 with Retry-After, which
'bugcheck upload' honours. Behind a reverse proxy, name it with --trusted-proxy so that the client
address comes from X-Forwarded-For.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Flags are checked before the data is opened (and the
			// first admin token made).
			trusted, err := server.ParseCIDRs(proxies)
			if err != nil {
				return err
			}
			if !store.Role(dumpRole).Valid() {
				return fmt.Errorf("--dump-role %q: want read, upload or admin", dumpRole)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, opt, closeAll, err := sf.open(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			toks, err := d.Store.Tokens(ctx)
			if err != nil {
				return err
			}
			if len(toks) == 0 {
				secret, _, err := server.NewToken(ctx, d.Store, "first admin", store.RoleAdmin)
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "bugcheck: created an admin token; it is shown only now:\n%s\n", secret)
			}
			cfg := sf.config(d, opt, slog.New(slog.NewTextHandler(stderr, nil)))
			cfg.MaxUpload, cfg.AnonymousRead = maxUpload, anonRead
			cfg.DumpRole = store.Role(dumpRole)
			// The flags' 0 is unlimited; the Config's is the default.
			unlimited0 := func(v float64) float64 { return cmp.Or(max(v, 0), -1) }
			cfg.RateLimits = server.RateLimits{Upload: unlimited0(rateUpload), Login: unlimited0(rateLogin), API: unlimited0(rateAPI)}
			cfg.TrustedProxies = trusted
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			return srv.ListenAndServe(ctx, listen, func(a net.Addr) {
				where := sf.data
				if sf.db != "" || sf.blobs != "" {
					where = "shared database and bucket; staging in " + sf.data
				}
				fmt.Fprintf(stdout, "bugcheck: serving http://%s/ (data in %s)\n", a, where)
				if ta, ok := a.(*net.TCPAddr); ok && !ta.IP.IsLoopback() && anonRead {
					fmt.Fprintln(stderr, "bugcheck: warning: listening beyond this machine with --anonymous-read: anyone who reaches it can read the crashes")
				}
			})
		},
	}
	sf.add(c)
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	c.Flags().Int64Var(&maxUpload, "max-upload", server.DefaultMaxUpload, "largest upload accepted, in bytes")
	c.Flags().BoolVar(&anonRead, "anonymous-read", true, "let requests without a token read the pages and the API")
	c.Flags().StringVar(&dumpRole, "dump-role", string(store.RoleUpload), "least role that may download the dumps themselves (read, upload or admin); dumps hold the crashed machines' memory")
	c.Flags().Float64Var(&rateUpload, "rate-upload", server.DefaultRateUpload, "uploads per minute per client: per token, or per IP address without one (0: unlimited)")
	c.Flags().Float64Var(&rateLogin, "rate-login", server.DefaultRateLogin, "failed sign-ins (wrong tokens on /login or the upload form) per minute per IP address (0: unlimited)")
	c.Flags().Float64Var(&rateAPI, "rate-api", server.DefaultRateAPI, "other API and page requests per minute per client (0: unlimited); over a limit the server answers 429 with Retry-After")
	c.Flags().StringArrayVar(&proxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy whose X-Forwarded-For names the client, for the rate limits (repeatable)")
	c.AddCommand(tokenCmd(stdout, &sf))
	return c
}

func tokenCmd(stdout io.Writer, sf *serveFlags) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Manage the server's API tokens (works while it runs)"}
	withData := func(fn func(context.Context, store.Store) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			d, err := sf.openData(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			return fn(cmd.Context(), d.Store)
		}
	}
	var role string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a token and print it (only its hash is stored)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(func(ctx context.Context, st store.Store) error {
				secret, _, err := server.NewToken(ctx, st, args[0], store.Role(role))
				if err == nil {
					fmt.Fprintln(stdout, secret)
				}
				return err
			})(cmd, args)
		},
	}
	add.Flags().StringVar(&role, "role", "upload", "read, upload or admin")
	list := &cobra.Command{
		Use: "list", Short: "List tokens", Args: cobra.NoArgs,
		RunE: withData(func(ctx context.Context, st store.Store) error {
			toks, err := st.Tokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tCREATED\tNAME")
			for _, t := range toks {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, t.Role, t.Created.Format("2006-01-02 15:04"), t.Name)
			}
			return tw.Flush()
		}),
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Revoke a token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("token ID %q is not a number", args[0])
			}
			return withData(func(ctx context.Context, st store.Store) error {
				err := st.DeleteToken(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no token %d", id)
				}
				return err
			})(cmd, args)
		},
	}
	c.AddCommand(add, list, del)
	return c
}

func reanalyzeCmd(stdout, stderr io.Writer) *cobra.Command {
	var sf serveFlags
	c := &cobra.Command{
		Use:   "reanalyze",
		Short: "Re-analyse every dump the server stored (after an upgrade, or with symbols)",
		Long: `reanalyze queues every stored upload for analysis again and runs the queue until it is empty,
replacing each crash's report in place. It works whether or not 'bugcheck serve' is running on the
same --data folder (a running server shares the work).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, opt, closeAll, err := sf.open(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			n, err := d.Store.RequeueAll(ctx)
			if err != nil {
				return err
			}
			cfg := sf.config(d, opt, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			if err := srv.Drain(ctx); err != nil {
				return err
			}
			_, total, err := d.Store.Crashes(ctx, store.Filter{Limit: 1})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "bugcheck: queued %d uploads; %d crashes stored\n", n, total)
			return nil
		},
	}
	sf.add(c)
	return c
}
