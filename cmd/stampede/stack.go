package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/mocks/stack"
)

// stackOptions are the flags of `stampede stack serve`.
type stackOptions struct {
	addr     string
	profile  string
	db       string
	banksURL string
}

func newCmdStack(st *state) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Run the reference enrollment stack (the launch-day wallet in miniature)",
		Example: `  stampede mocks serve &
  stampede stack serve --banks-url http://127.0.0.1:8181 --profile hardened`,
		Args: usageArgs(cobra.NoArgs),
		RunE: showHelp,
	}
	cmd.AddCommand(newCmdStackServe(st))
	return cmd
}

func newCmdStackServe(st *state) *cobra.Command {
	o := &stackOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the reference stack until interrupted",
		Long: `serve runs the enrollment journey's API (mocks/stack/API.md) with real persistence
(SQLite by default, PostgreSQL with --db postgres://...) in front of the bank mocks,
under the naive (2020) or hardened resilience profile. GET /admin/audit (loopback
only) lists what it stored.`,
		Example: `  stampede stack serve --banks-url http://127.0.0.1:8181
  stampede stack serve --profile hardened --db stack.db --addr 127.0.0.1:8080
  stampede stack serve --db postgres://user@127.0.0.1:5432/stampede`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := stack.ParseProfile(o.profile)
			if err != nil {
				return fmt.Errorf("--profile: %w", err)
			}
			cfg := stack.Config{
				Profile:  profile,
				DB:       o.db,
				BanksURL: o.banksURL,
				Logger:   slog.New(slog.NewTextHandler(st.stderr, nil)),
			}
			return serveError(stack.Serve(cmd.Context(), cfg, o.addr))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.profile, "profile", "hardened", "resilience profile: naive (the 2020 behaviour) or hardened")
	f.StringVar(&o.db, "db", "stack.db", "SQLite file, or a postgres:// DSN")
	f.StringVar(&o.banksURL, "banks-url", "http://127.0.0.1:8181", "base URL of the bank mocks ('stampede mocks serve')")
	return cmd
}

// serveError names the flag at fault when the stack cannot start with what
// the command line gave it.
func serveError(err error) error {
	for _, f := range []struct {
		err  error
		flag string
	}{{stack.ErrListen, "--addr"}, {stack.ErrDatabase, "--db"}, {stack.ErrConfig, "--banks-url"}} {
		if errors.Is(err, f.err) {
			return fmt.Errorf("%w: %s: %w", errUsage, f.flag, err)
		}
	}
	return err
}
