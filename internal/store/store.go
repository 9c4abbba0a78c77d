// Package store owns the one bbolt file that holds every mailbox, wallet and
// reservation, and the single writer goroutine that commits changes to it.
//
// Changes arrive as functions over a transaction. The writer drains whatever
// is queued into one bbolt transaction and one pair of fsyncs (group commit),
// so deliveries that arrive together share the cost of making them durable.
// The package knows nothing of mail or money; mailstore and billing define
// their buckets on top of it.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the data directory.
const FileName = "agentmail.db"

// batchOpsMax bounds how many queued operations share one commit, so that a
// burst cannot make one transaction (and the latency of its first caller)
// grow without limit.
const batchOpsMax = 512

// queueLenMax bounds the writer's queue; callers block when it is full.
const queueLenMax = 4096

// ErrClosed is returned for operations submitted after Close.
var ErrClosed = errors.New("store is closed")

// Options tune how the database is opened.
type Options struct {
	// NoSync skips fsync; only for benchmarks that measure CPU cost.
	NoSync bool
	// Timeout bounds the wait for the file lock held by another process.
	Timeout time.Duration
}

// DB is the opened database with its writer.
type DB struct {
	bolt    *bolt.DB
	queue   chan *op
	done    chan struct{}
	blobDir string
	// blobMu orders blob removals after a snapshot's links (see
	// WriteSnapshotBlobs).
	blobMu sync.Mutex

	upgradedFrom uint64
	// fenced holds the commit error after which no write is safe any more;
	// see classifyCommitError.
	fenced atomic.Pointer[error]

	closeMu sync.RWMutex // held for reading while sending to queue
	closed  bool

	attachMu sync.Mutex
	attached map[any]any
}

// Tx is a write transaction handed to an operation. Hooks registered with
// OnCommit run in the writer goroutine, in commit order, after the
// transaction is durable and before the operation's caller is answered.
type Tx struct {
	*bolt.Tx
	db    *DB
	hooks []func()
}

// OnCommit registers f to run once the transaction has been committed.
func (tx *Tx) OnCommit(f func()) {
	tx.hooks = append(tx.hooks, f)
}

type op struct {
	fn    func(*Tx) error
	hooks []func()
	err   error
	reply chan error
}

// Open opens (creating if needed) the database in dir.
func Open(dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	b, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{
		Timeout:         timeout,
		NoSync:          opts.NoSync,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: the data directory is in use by another process", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	from, err := migrate(b)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	db := &DB{bolt: b, queue: make(chan *op, queueLenMax), done: make(chan struct{}),
		upgradedFrom: from, blobDir: BlobDir(dir)}
	if err := db.openBlobs(); err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	go db.writer()
	return db, nil
}

// UpgradedFrom returns the data format version the file had when it was
// opened; it is FormatVersion unless Open upgraded the file.
func (db *DB) UpgradedFrom() uint64 { return db.upgradedFrom }

// Bolt returns the underlying bbolt handle, for read transactions, backups and
// checks. Writes must go through Update.
func (db *DB) Bolt() *bolt.DB { return db.bolt }

// Attach returns the value kept for this open database under key, making it
// with newValue on first use. A package on top of the store keeps here the
// in-memory state that every user of one database must share, such as an
// index of what its buckets hold; newValue runs once per key, under a lock.
func (db *DB) Attach(key any, newValue func() (any, error)) (any, error) {
	db.attachMu.Lock()
	defer db.attachMu.Unlock()
	if v, ok := db.attached[key]; ok {
		return v, nil
	}
	v, err := newValue()
	if err != nil {
		return nil, err
	}
	if db.attached == nil {
		db.attached = map[any]any{}
	}
	db.attached[key] = v
	return v, nil
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*bolt.Tx) error) error { return db.bolt.View(fn) }

// Update runs fn in a write transaction shared with other queued operations
// and returns once that transaction is durable, or fn's own error.
//
// When fn returns an error the whole transaction is rolled back and the rest
// of the batch is replayed without fn, so nothing fn wrote survives. Any
// operation may therefore run more than once: it must have no effects
// outside the transaction except through Tx.OnCommit, and it must report
// results through variables it overwrites on every run.
func (db *DB) Update(fn func(*Tx) error) error {
	if err := db.fenced.Load(); err != nil {
		return *err
	}
	o := &op{fn: fn, reply: make(chan error, 1)}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	db.queue <- o
	db.closeMu.RUnlock()
	return <-o.reply
}

// Close stops the writer once the queued operations are committed and closes
// the file.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return ErrClosed
	}
	db.closed = true
	close(db.queue)
	db.closeMu.Unlock()
	<-db.done
	return db.bolt.Close()
}

func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*op, 0, batchOpsMax)
	last := 0
	for first := range db.queue {
		batch = append(batch[:0], first)
		// Under concurrency, the callers answered by the last commit are
		// runnable but have not queued their next operation yet. Yielding
		// until the queue stops growing lets them join this commit instead
		// of the next, so commits carry more operations each; a lone caller
		// (last == 1) is never delayed.
		if last > 1 {
			for n := len(db.queue); ; {
				runtime.Gosched()
				m := len(db.queue)
				if m == n {
					break
				}
				n = m
			}
		}
	drain:
		for len(batch) < batchOpsMax {
			select {
			case o, ok := <-db.queue:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		db.commit(batch)
		last = len(batch)
	}
}

// commit runs the batch in one transaction. An operation that fails is taken
// out and the others are replayed in a fresh transaction, so one bad
// operation never discards the work of the rest.
func (db *DB) commit(batch []*op) {
	if err := db.fenced.Load(); err != nil {
		for _, o := range batch {
			o.reply <- *err
		}
		return
	}
	pending := batch
	for len(pending) > 0 {
		failed := -1
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			for i, o := range pending {
				tx := &Tx{Tx: btx, db: db}
				if err := o.fn(tx); err != nil {
					failed = i
					o.err = err
					return err
				}
				o.hooks = tx.hooks
			}
			return nil
		})
		if err == nil {
			for _, o := range pending {
				for _, h := range o.hooks {
					h()
				}
				o.reply <- nil
			}
			return
		}
		if failed < 0 {
			// The commit itself failed (disk full, I/O error): nothing of
			// this batch is durable and every caller is told so.
			err = db.commitFailed(err)
			for _, o := range pending {
				o.reply <- err
			}
			return
		}
		pending[failed].reply <- pending[failed].err
		pending = append(pending[:failed:failed], pending[failed+1:]...)
		for _, o := range pending {
			o.hooks = nil
		}
	}
}
