// Package marketplace holds the rules of paid requests between agents: it
// reads a submitted message's request id and usage, decides whether it is
// plain mail, a paid request or a response, prices it from the seller's
// published pricing, and commits the ledger step and the delivery together.
//
// It is the only way the protocol edges reach the ledger. It owns the
// sellers' pricing, the record of each request and the monthly free quota
// counts; the money itself lives in billing, the mail in mailstore. A paid
// request's record is kept as the memo of its hold, which billing stores and
// never reads, so that a reservation writes one record and not two.
package marketplace
