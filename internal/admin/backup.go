package admin

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"agentmail/internal/store"
)

// backupPath is the admin socket path that streams a snapshot.
const backupPath = "/backup"

// WithBackup serves a backup on the admin socket in front of next: GET
// /backup streams a consistent snapshot of db (one bbolt read transaction)
// while the server goes on serving, with Content-Length set ahead so that
// the client can show progress and notice a cut-off stream.
func WithBackup(next http.Handler, db *store.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != backupPath {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "backup: use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		// On an error midway the body falls short of Content-Length and
		// net/http closes the connection: the client sees a cut-off stream.
		_, _ = db.WriteSnapshot(w, func(size int64) {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.WriteHeader(http.StatusOK)
		})
	})
}

// Backup streams a snapshot of the running server's database to w. size,
// when not nil, learns the snapshot's length before the first byte.
func (c *Client) Backup(w io.Writer, size func(int64)) (int64, error) {
	// The snapshot may take longer than the client's timeout for one call.
	hc := &http.Client{Transport: c.http.Transport}
	resp, err := hc.Get("http://admin" + backupPath)
	if err != nil {
		return 0, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Type") != "application/octet-stream" {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("backup: server answered %s: %s", resp.Status, msg)
	}
	if size != nil {
		size(resp.ContentLength)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("backup: after %d bytes: %w", n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("backup: stream cut off at %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}
