// Package load drives a mail server the way an operator would measure it:
// many SMTP sessions submitting at once, optional IMAP IDLE sessions on the
// recipients to time each delivery's wake-up, a sampler of the server's
// memory, and an IMAP workload on one large mailbox.
//
// It talks to servers only over the network (and, to create its agents,
// through agentmail's admin API), so the same run measures agentmail and
// any other SMTP and IMAP server. It owns no storage and knows no billing
// rule beyond the headers a client sends.
package load
