package smtpd

import (
	"bytes"
	"errors"

	"github.com/emersion/go-sasl"
)

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login): the server asks for the user name, then the
// password, each in a base64 challenge. go-sasl ships only the client side;
// many mail libraries offer nothing else.
type loginServer struct {
	authenticate func(username, password string) error
	username     []byte
	step         int
}

func newLoginServer(authenticate func(username, password string) error) sasl.Server {
	return &loginServer{authenticate: authenticate}
}

// Next implements sasl.Server.
func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step++
		if response != nil { // initial response carries the user name
			s.username = bytes.Clone(response)
			s.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		s.username = bytes.Clone(response)
		s.step++
		return []byte("Password:"), false, nil
	case 2:
		s.step++
		return nil, true, s.authenticate(string(s.username), string(response))
	}
	return nil, true, errors.New("unexpected LOGIN response")
}
