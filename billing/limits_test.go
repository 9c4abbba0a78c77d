package billing_test

import (
	"errors"
	"testing"

	"agentmail/billing"
)

// Two wallets of AmountMax-2 each put more than AmountMax of one currency in
// the system. The credit must be refused as an overflow, the same refusal as
// one wallet passing AmountMax, and not as "world would go below zero",
// which reads like a funds problem and depended on map order when both
// bounds broke at once.
func TestCreditPastTotalMoneyIsOverflow(t *testing.T) {
	tests := []struct {
		name   string
		first  billing.Amount
		second billing.Amount
		agent2 string
	}{
		{"two wallets", billing.AmountMax - 2, billing.AmountMax - 2, seller},
		{"one wallet past AmountMax", billing.AmountMax - 2, 3, buyer},
		{"one wallet and the world", billing.AmountMax - 2, billing.AmountMax, buyer},
	}
	for _, tt := range tests {
		for range 20 { // map order varied which bound answered
			l, _ := newLedger(t)
			if _, err := l.Credit(billing.Transfer{Agent: buyer, Currency: "USD",
				Amount: tt.first}); err != nil {
				t.Fatal(err)
			}
			_, err := l.Credit(billing.Transfer{Agent: tt.agent2, Currency: "USD",
				Amount: tt.second})
			if !errors.Is(err, billing.ErrOverflow) {
				t.Fatalf("%s: credit %s after %s: got %v, want ErrOverflow", tt.name,
					tt.second, tt.first, err)
			}
			wantBalance(t, l, buyer, tt.first.String(), "0")
			wantVerified(t, l)
		}
	}
}
