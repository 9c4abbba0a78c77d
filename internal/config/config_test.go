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
