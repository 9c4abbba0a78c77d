// Package crashtest drives a real agentmail binary the way an operator's
// worst day would: paid traffic from many clients, SIGKILL at random
// moments, restarts, backups taken while mail flows. After each event it
// checks, over SMTP, IMAP, HTTP and the check command only, that every
// message the server acknowledged is in its mailbox exactly once, that no
// refused message is anywhere, that reservations and settlements match the
// mail that carried them, and that the store and the ledger are sound.
//
// The package holds the harness; the tests are in its _test.go files and
// run with go test. It is test support only: nothing in the server imports
// it.
package crashtest
