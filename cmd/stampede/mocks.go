package main

import (
	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/mocks/bank"
)

func newCmdMocks(st *state) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mocks",
		Short: "Run the bank and card-processor mocks, which queue and fail like real ones",
		Example: `  stampede mocks config > banks.yaml
  stampede mocks serve --config banks.yaml --addr 127.0.0.1:8181`,
		Args: usageArgs(cobra.NoArgs),
		RunE: showHelp,
	}
	cmd.AddCommand(newCmdMocksServe(st), newCmdMocksConfig(st))
	return cmd
}

func newCmdMocksServe(st *state) *cobra.Command {
	o := bank.ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the bank mocks until interrupted",
		Long: `serve runs every simulated bank, the three card processors (iccrea, nexi, sia) and
the IBAN service as queueing stations: c servers, a bounded queue, service times
from a distribution, rate limits and faults, as the banks file says. The admin
API (/admin/stations, change a station live) and /metrics stay on loopback unless
--admin-addr says otherwise. The API is in mocks/bank/API.md.`,
		Example: `  stampede mocks serve
  stampede mocks serve --config banks.yaml --addr 127.0.0.1:8181
  curl -X PATCH 127.0.0.1:8181/admin/stations/nexi -d '{"servers": 2}'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = st.stdout
			return bank.Serve(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.ConfigFile, "config", "", "banks file (default: the built-in banks; see 'stampede mocks config')")
	cmd.Flags().StringVar(&o.Addr, "addr", bank.DefaultAddr, "address of the bank API")
	cmd.Flags().StringVar(&o.AdminAddr, "admin-addr", "", "address of the admin API (default: the API's own when on loopback)")
	return cmd
}

func newCmdMocksConfig(st *state) *cobra.Command {
	return &cobra.Command{
		Use:     "config",
		Short:   "Print the default banks file, to start your own from",
		Example: "  stampede mocks config > banks.yaml",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return bank.WriteDefault(st.stdout)
		},
	}
}
