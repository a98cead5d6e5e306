package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bugcheck/bugcheck/bugcode"
)

// parseCode accepts 0x50, 50, 0x00000050, 0x10000050 or a name such as
// PAGE_FAULT_IN_NONPAGED_AREA (any case).
func parseCode(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(t), "0x"), 16, 32); err == nil {
		return uint32(v), nil
	}
	if c, ok := bugcode.ByName(t); ok {
		return c, nil
	}
	return 0, fmt.Errorf("%q is neither a bug check code (hex, like 0x50 or 50) nor a bug check name", s)
}

func explainCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "explain CODE|NAME",
		Short: "Explain a bug check code offline: name, parameters, meaning",
		Example: `  bugcheck explain 0x50
  bugcheck explain 50
  bugcheck explain PAGE_FAULT_IN_NONPAGED_AREA`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := parseCode(args[0])
			if err != nil {
				return err
			}
			in, ok := bugcode.Lookup(code)
			if !ok {
				return fmt.Errorf("bug check %#x is not a code Windows documents", code)
			}
			if asJSON {
				return writeJSON(stdout, struct {
					Code       string   `json:"code"`
					Name       string   `json:"name"`
					Base       string   `json:"base_code"`
					Variant    bool     `json:"variant"`
					Summary    string   `json:"summary,omitempty"`
					Parameters []string `json:"parameters"`
					Causes     []string `json:"likely_causes"`
				}{fmt.Sprintf("%#x", in.Code), in.Name, fmt.Sprintf("%#x", in.Base), in.Variant, in.Summary, in.Params[:], append([]string{}, in.Causes...)})
			}
			fmt.Fprintf(stdout, "Bug check 0x%08X %s\n", in.Code, in.Name)
			if in.Variant {
				fmt.Fprintf(stdout, "  (the _M variant of 0x%X: same meaning, raised on another path)\n", in.Base)
			}
			if in.Summary != "" {
				fmt.Fprintf(stdout, "\n  %s\n", in.Summary)
			}
			fmt.Fprintln(stdout, "\n  Parameters:")
			for i, p := range in.Params {
				if p == "" {
					p = "(reserved, or not described yet)"
				}
				fmt.Fprintf(stdout, "    %d: %s\n", i+1, p)
			}
			if len(in.Causes) > 0 {
				fmt.Fprintln(stdout, "\n  Usual causes, most likely first:")
				for _, c := range in.Causes {
					fmt.Fprintf(stdout, "    - %s\n", c)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return c
}
