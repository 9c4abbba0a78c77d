// Package smtpd is the submission edge: authenticated agents hand messages
// to the server over SMTP (RFC 5321, RFC 6409) on go-smtp.
//
// It authenticates agents, binds the envelope sender and From: to the
// authenticated agent, refuses malformed line endings, and passes each
// message to the marketplace, which bills and delivers it in one commit. The
// reply to DATA is sent only once that commit is durable. The package never
// touches the ledger directly.
package smtpd
