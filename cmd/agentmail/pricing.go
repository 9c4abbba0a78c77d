package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/marketplace"
)

// pricingFileBytesMax bounds a pricing file.
const pricingFileBytesMax = 1 << 20

func newPricingCmd(g *globalFlags) *cobra.Command {
	cmd := groupCmd("pricing", "Publish and show a seller's pricing",
		`A seller's pricing decides what a paid request to it reserves from the buyer
and what the response settles. ADDRESS may be an agent id or a full address.
The pricing is validated exactly as the HTTP API validates it.`)
	cmd.Example = `  agentmail pricing set seller --model per_request --base-price 0.25
  agentmail pricing set seller --file pricing.json
  agentmail pricing show seller --json`
	cmd.AddCommand(newPricingSetCmd(g), newPricingShowCmd(g))
	return cmd
}

func newPricingSetCmd(g *globalFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "set ADDRESS (--file FILE | field flags)",
		Short: "Publish a seller's pricing",
		Long: `Publish the pricing of ADDRESS, replacing any earlier one. Give either a JSON
file in the contract's format (--file, "-" for standard input) or one flag
per field; fields not given are absent, and absent prices count as zero.
Amounts are exact decimals with at most six fractional digits. Every model
but per_request needs --max-charge.`,
		Example: `  agentmail pricing set seller --model per_request --base-price 0.25
  agentmail pricing set seller --model token_based --token-price-input 3 \
      --token-price-output 15 --max-charge 0.50
  agentmail pricing set seller --model unit_based --unit-price page=0.01 \
      --unit-price image=0.05 --max-charge 2
  echo '{"pricing_model":"per_request","base_price":0.25}' | \
      agentmail pricing set seller --file -`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			data, err := pricingInput(cmd, file)
			if err != nil {
				return err
			}
			p, err := marketplace.ParsePricing(data)
			if err != nil {
				return err
			}
			return withAdmin(cmd, g, func(api admin.API) error {
				if err := api.SetPricing(a[0], p); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pricing of %s set: %s, %s\n", a[0], p.Model,
					p.Currency)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", `pricing JSON file ("-" for standard input)`)
	addPricingFlags(cmd)
	return cmd
}

// pricingInput is the pricing JSON, from --file or built from the field
// flags.
func pricingInput(cmd *cobra.Command, file string) ([]byte, error) {
	fieldsSet := pricingFlagsSet(cmd)
	switch {
	case file != "" && fieldsSet:
		return nil, usageError{fmt.Errorf("give --file or field flags, not both")}
	case file == "" && !fieldsSet:
		return nil, usageError{fmt.Errorf("give --file or at least one field flag")}
	case file == "":
		return pricingFromFlags(cmd)
	}
	r := cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, pricingFileBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("read pricing: %w", err)
	}
	if len(data) > pricingFileBytesMax {
		return nil, fmt.Errorf("read pricing: longer than %d bytes", pricingFileBytesMax)
	}
	return data, nil
}

func newPricingShowCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ADDRESS",
		Short: "Show a seller's pricing",
		Long: `Show the pricing ADDRESS has published, including disabled pricing, which the
public HTTP endpoint hides.`,
		Example: `  agentmail pricing show seller
  agentmail pricing show seller --json > pricing.json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				p, err := api.Pricing(a[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), p)
				}
				return printPricing(cmd.OutOrStdout(), p)
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printPricing writes the fields that are set, one per line.
func printPricing(w io.Writer, p marketplace.Pricing) error {
	t := newTable(w, "FIELD", "VALUE")
	t.row("pricing_model", p.Model)
	t.row("currency", p.Currency)
	t.row("enabled", fmt.Sprint(p.IsEnabled()))
	for _, f := range []struct {
		name  string
		value fmt.Stringer
		set   bool
	}{
		{"base_price", p.BasePrice, p.BasePrice != 0},
		{"token_price_input", p.TokenPriceInput, p.TokenPriceInput != 0},
		{"token_price_output", p.TokenPriceOutput, p.TokenPriceOutput != 0},
		{"outcome_price", p.OutcomePrice, p.OutcomePrice != 0},
		{"compute_price", p.ComputePrice, p.ComputePrice != 0},
		{"minimum_charge", p.MinimumCharge, p.MinimumCharge != 0},
	} {
		if f.set {
			t.row(f.name, f.value.String())
		}
	}
	if p.MaxCharge != nil {
		t.row("max_charge", p.MaxCharge.String())
	}
	units := make([]string, 0, len(p.CustomUnitPrices))
	for u := range p.CustomUnitPrices {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, u := range units {
		t.row("custom_unit_prices."+u, p.CustomUnitPrices[u].String())
	}
	if p.FreeQuota != 0 {
		t.row("free_quota", fmt.Sprint(p.FreeQuota))
	}
	if p.ListingSummary != "" {
		t.row("listing_summary", p.ListingSummary)
	}
	if p.RequestDocs != "" {
		t.row("request_payload_docs", p.RequestDocs)
	}
	if p.SupportURL != "" {
		t.row("support_url", p.SupportURL)
	}
	return t.flush()
}
