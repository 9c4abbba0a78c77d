// Package mailstore keeps agents' accounts and mailboxes in the shared bbolt
// file: folders with UIDVALIDITY and UIDs, per-message flags and internal
// dates, and each message's bytes exactly as received plus the server's
// stamps.
//
// It knows nothing of money or of the protocols that read it. Changes are
// announced to an Observer after they are durable, in commit order, so that
// the IMAP side can keep each session's view of a mailbox current.
package mailstore
