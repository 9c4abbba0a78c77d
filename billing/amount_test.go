package billing_test

import (
	"encoding/json"
	"errors"
	"testing"

	"agentmail/billing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in      string
		want    billing.Amount
		wantErr bool
	}{
		{in: "0.25", want: 250_000},
		{in: "10", want: 10_000_000},
		{in: "1e-6", want: 1},
		{in: "0.000001", want: 1},
		{in: " 1.5 ", want: 1_500_000},
		{in: "0", want: 0},
		{in: "-0", want: 0},
		{in: "1000000000000", want: billing.AmountMax}, // 10^12 units, the limit
		{in: "0.0000001", wantErr: true},
		{in: "1.0000005", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "-0.000001", wantErr: true},
		{in: "1000000000000.000001", wantErr: true},
		{in: "9223372036854.775807", wantErr: true},
		{in: "9223372036854.775808", wantErr: true},
		{in: "1e30", wantErr: true},
		{in: "1e40", wantErr: true},
		{in: "1e400", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "Infinity", wantErr: true},
		{in: "0x10", wantErr: true},
		{in: "1,5", wantErr: true},
	}
	for _, tt := range tests {
		got, err := billing.ParseAmount(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseAmount(%q) = %d, want error", tt.in, got)
			} else if !errors.Is(err, billing.ErrAmount) {
				t.Errorf("ParseAmount(%q) error %v does not wrap ErrAmount", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// ParseAmount's doc comment promises that trailing zeros do not count
// toward the six fractional digits.
func TestParseAmountTrailingZeros(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want billing.Amount
	}{
		{"0.1000000", 100_000},
		{"2.50000000", 2_500_000},
		{"0.0000010", 1},
	} {
		in, want := tt.in, tt.want
		got, err := billing.ParseAmount(in)
		if err != nil {
			t.Fatalf("ParseAmount(%q) = %v; want %d", in, err, want)
		}
		if got != want {
			t.Errorf("ParseAmount(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestAmountString(t *testing.T) {
	tests := []struct {
		in           billing.Amount
		str, compact string
	}{
		{0, "0.000000", "0"},
		{1, "0.000001", "0.000001"},
		{250_000, "0.250000", "0.25"},
		{9_750_000, "9.750000", "9.75"},
		{10_000_000, "10.000000", "10"},
		{100_000_000, "100.000000", "100"},
		{-500_000, "-0.500000", "-0.5"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.str {
			t.Errorf("Amount(%d).String() = %q, want %q", tt.in, got, tt.str)
		}
		if got := tt.in.Compact(); got != tt.compact {
			t.Errorf("Amount(%d).Compact() = %q, want %q", tt.in, got, tt.compact)
		}
	}
}

func TestAmountJSONExact(t *testing.T) {
	a, _ := billing.ParseAmount("0.1")
	b, _ := billing.ParseAmount("0.2")
	data, err := json.Marshal(map[string]billing.Amount{"sum": a + b})
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"sum":0.3}` {
		t.Errorf("0.1+0.2 marshals as %s, want {\"sum\":0.3}", data)
	}

	bal := billing.Balance{Currency: "USD", Available: 9_750_000, Reserved: 250_000}
	data, _ = json.Marshal(bal)
	if want := `{"currency":"USD","available":9.75,"reserved":0.25}`; string(data) != want {
		t.Errorf("balance marshals as %s, want %s", data, want)
	}
}

func TestAmountUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    billing.Amount
		wantErr bool
	}{
		{in: `0.3`, want: 300_000},
		{in: `"0.3"`, want: 300_000},
		{in: `12345678.123456`, want: 12_345_678_123_456},
		{in: `1e-6`, want: 1},
		{in: `0.0000001`, wantErr: true},
		{in: `-1`, wantErr: true},
		{in: `"abc"`, wantErr: true},
		{in: `true`, wantErr: true},
		{in: `null`, want: 0}, // JSON null is an absent amount
		{in: `{}`, wantErr: true},
	}
	for _, tt := range tests {
		var got billing.Amount
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d, error %v", tt.in, got, err, tt.want,
				tt.wantErr)
		}
	}
}

func TestCheckCurrency(t *testing.T) {
	for _, c := range []string{"USD", "EUR", "JPY"} {
		if err := billing.CheckCurrency(c); err != nil {
			t.Errorf("CheckCurrency(%q) = %v", c, err)
		}
	}
	for _, c := range []string{"", "usd", "US", "USDT", "U$D", "ÜSD"} {
		if err := billing.CheckCurrency(c); err == nil {
			t.Errorf("CheckCurrency(%q) accepted", c)
		}
	}
}
