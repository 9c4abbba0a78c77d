package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The example file documents every key with its default: decoding it must
// give exactly the embedded defaults.
func TestExampleMatchesDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("config.example.toml differs from Default():\n file    %+v\n default %+v", cfg, Default())
	}
}

func TestLoadRefusesUnknownAndBadKeys(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":  "domian = \"x\"\n",
		"bad duration": "[billing]\nreservation_ttl = \"soon\"\n",
		"zero ttl":     "[billing]\nreservation_ttl = \"0s\"\n",
		"bad format":   "[log]\nformat = \"xml\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil {
				t.Fatalf("Load accepted %q", body)
			}
		})
	}
}

func TestLoadOverridesDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	body := "domain = \"agents.example.com\"\n[billing]\nreservation_ttl = \"2s\"\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain != "agents.example.com" || cfg.Billing.ReservationTTL.String() != "2s" {
		t.Errorf("got domain %q ttl %s", cfg.Domain, cfg.Billing.ReservationTTL)
	}
	if !strings.HasPrefix(cfg.SMTP.Listen, "127.0.0.1:") {
		t.Errorf("unset key lost its default: %q", cfg.SMTP.Listen)
	}
}

func TestPlatformFeePercent(t *testing.T) {
	for body, want := range map[string]int64{
		"2.5":         2_500_000,
		"\"0.125\"":   125_000,
		"3":           3_000_000,
		"0.0000001":   -1,
		"101":         -1,
		"\"lots\"":    -1,
		"[1]":         -1,
		"100":         100_000_000,
		"0.000001":    1,
		"\"12.3400\"": 12_340_000,
	} {
		path := filepath.Join(t.TempDir(), "c.toml")
		toml := "[billing]\nplatform_fee_percent = " + body + "\n"
		if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		switch {
		case want < 0 && err == nil:
			t.Errorf("platform_fee_percent = %s accepted as %d", body, cfg.Billing.PlatformFeePercent.Micros)
		case want >= 0 && err != nil:
			t.Errorf("platform_fee_percent = %s: %v", body, err)
		case want >= 0 && cfg.Billing.PlatformFeePercent.Micros != want:
			t.Errorf("platform_fee_percent = %s read as %d micro-percent, want %d",
				body, cfg.Billing.PlatformFeePercent.Micros, want)
		}
	}
}
