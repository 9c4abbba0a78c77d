package admin

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
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
		blobDir := r.URL.Query().Get("blobs")
		if blobDir != "" && !filepath.IsAbs(blobDir) {
			http.Error(w, "backup: blobs must be an absolute path", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		// On an error midway the body falls short of Content-Length and
		// net/http closes the connection: the client sees a cut-off stream.
		started := func(size int64) {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.WriteHeader(http.StatusOK)
		}
		var err error
		if blobDir == "" {
			_, err = db.WriteSnapshot(w, started)
		} else {
			_, err = db.WriteSnapshotBlobs(w, started, blobDir)
		}
		if err != nil && w.Header().Get("Content-Length") == "" {
			http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		}
	})
}

// Backup streams a snapshot of the running server's database to w. size,
// when not nil, learns the snapshot's length before the first byte.
func (c *Client) Backup(w io.Writer, size func(int64)) (int64, error) {
	return c.BackupBlobs(w, size, "")
}

// BackupBlobs is Backup that also has the server put the blob files the
// snapshot refers to into blobDir, an absolute path on the same machine
// (hard links where it can).
func (c *Client) BackupBlobs(w io.Writer, size func(int64), blobDir string) (int64, error) {
	// The snapshot may take longer than the client's timeout for one call.
	hc := &http.Client{Transport: c.http.Transport}
	u := "http://admin" + backupPath
	if blobDir != "" {
		u += "?blobs=" + url.QueryEscape(blobDir)
	}
	resp, err := hc.Get(u)
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
