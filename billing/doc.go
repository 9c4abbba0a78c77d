// Package billing is the wallet ledger: integer money in micro-units,
// per agent and currency, kept as a double-entry journal in the shared bbolt
// file.
//
// Every movement is an immutable journal entry whose postings net to zero
// per currency; balances are a cache of the journal's fold, updated in the
// same transaction. Holds (reservations) move money from an agent's
// available balance to its reserved balance; a hold is resolved exactly once,
// by settlement (part to a payee, the rest back), void or expiry by the
// ledger's own clock. A hold may carry its caller's memo, which the ledger
// stores with it and never reads.
//
// The ledger knows no protocol and not why money moves: the marketplace
// decides, the ledger keeps the books and refuses anything that would break
// them.
package billing
