package marketplace

import "strings"

// Header names of the contract. Names compare case-insensitively.
const (
	HeaderRequestID   = "X-AgentMail-Marketplace-Request-Id"
	HeaderUsage       = "X-AgentMail-Usage"
	HeaderMaxCharge   = "X-AgentMail-Max-Charge"
	HeaderReservation = "X-AgentMail-Reservation"
	HeaderSettlement  = "X-AgentMail-Settlement"
)

// isServerStamp reports whether a field name is one only the server writes.
func isServerStamp(name string) bool {
	return strings.EqualFold(name, HeaderReservation) || strings.EqualFold(name, HeaderSettlement)
}
