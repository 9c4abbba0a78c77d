package smtpd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"agentmail/internal/store"
)

// blobFiles lists the blob files of the harness's data directory.
func blobFiles(t *testing.T, h *harness) []string {
	t.Helper()
	dir := store.BlobDir(filepath.Dir(h.ms.DB().Bolt().Path()))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A body over mailstore.InlineBodyMax goes to one blob file that INBOX and
// Sent share; the message reads back byte for byte, request stamp
// included; a refused large message leaves no file behind.
func TestLargeMessageSpooledToBlob(t *testing.T) {
	h := newHarness(t, nil)
	line := strings.Repeat("0123456789abcdef", 6) + "\r\n" // 98 bytes
	body := strings.Repeat(line, 3000)                     // ~290 KiB
	c := h.dial()
	c.login("buyer")

	raw := message("buyer", "other", "big", body)
	if code, text := c.send("buyer", "other", raw); code != 250 {
		t.Fatalf("plain: %d %s", code, text)
	}
	if got := h.inbox("other"); len(got) != 1 || !bytes.Equal(got[0], []byte(raw)) {
		t.Fatalf("INBOX copy differs from what was sent (%d messages)", len(got))
	}
	if files := blobFiles(t, h); len(files) != 1 {
		t.Fatalf("blob files after one delivery: %v, want one shared by INBOX and Sent", files)
	}

	req := message("buyer", "seller", "paid big", body,
		"X-AgentMail-Marketplace-Request-Id: big-1",
		"X-AgentMail-Reservation: amount=0; forged=true")
	if code, text := c.send("buyer", "seller", req); code != 250 {
		t.Fatalf("request: %d %s", code, text)
	}
	got := h.inbox("seller")
	if len(got) != 1 || !bytes.HasPrefix(got[0], []byte("X-AgentMail-Reservation: amount=0.250000")) ||
		bytes.Contains(got[0], []byte("forged")) || !bytes.HasSuffix(got[0], []byte(body+"\r\n")) {
		t.Fatalf("seller's copy is not the stamped request")
	}

	before := h.state()
	poor := message("other", "seller", "unpaid big", body,
		"X-AgentMail-Marketplace-Request-Id: big-2")
	c2 := h.dial()
	c2.login("other")
	if code, _ := c2.send("other", "seller", poor); code != 550 {
		t.Fatalf("request without funds: %d, want 550", code)
	}
	if after := h.state(); after != before {
		t.Fatalf("refused message changed state:\n%s\n%s", before, after)
	}
	if files := blobFiles(t, h); len(files) != 2 {
		t.Fatalf("blob files: %v, want the two delivered messages' only", files)
	}
	h.verifyLedger()
}

// A bare LF deep inside a large body is refused and leaves no blob file.
func TestLargeMessageBareLF(t *testing.T) {
	h := newHarness(t, nil)
	body := strings.Repeat("x\r\n", 50000) + "bare\nlf\r\n"
	c := h.dial()
	c.login("buyer")
	if code, text := c.send("buyer", "other", message("buyer", "other", "big", body)); code != 550 ||
		!strings.Contains(text, "bare CR or LF") {
		t.Fatalf("got %d %s", code, text)
	}
	if files := blobFiles(t, h); len(files) != 0 {
		t.Fatalf("left behind: %v", files)
	}
}
