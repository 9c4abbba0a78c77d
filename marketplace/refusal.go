package marketplace

import "fmt"

// Refusal is a message the marketplace will not accept, with the SMTP reply
// that tells the sender why (RFC 5321 section 4.2, RFC 3463 codes).
type Refusal struct {
	Code     int    // SMTP reply code, 5xx
	Enhanced string // enhanced status code, such as "5.7.1"
	Text     string // names the problem and the numbers involved
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

// refusePolicy is a refusal for policy and state: funds, sellers, ids.
func refusePolicy(format string, args ...any) *Refusal {
	return &Refusal{Code: 550, Enhanced: "5.7.1", Text: fmt.Sprintf(format, args...)}
}

// refuseData is a refusal for malformed marketplace data.
func refuseData(format string, args ...any) *Refusal {
	return &Refusal{Code: 550, Enhanced: "5.6.0", Text: fmt.Sprintf(format, args...)}
}
