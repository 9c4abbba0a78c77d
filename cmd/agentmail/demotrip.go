package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"agentmail/marketplace"
)

// roundTrip sends the request, lets the seller see and answer it, and the
// buyer read the settled response, all over SMTP and IMAP.
func (d *demo) roundTrip() error {
	d.say("seller logs in over IMAP and starts IDLE on INBOX")
	exists := make(chan uint32, 8)
	seller, sel, err := dialIMAP(d.imapAddr, d.seller, &imapclient.UnilateralDataHandler{
		Mailbox: func(m *imapclient.UnilateralDataMailbox) {
			if m.NumMessages != nil {
				select {
				case exists <- *m.NumMessages:
				default:
				}
			}
		},
	})
	if err != nil {
		return err
	}
	defer seller.Close()
	idle, err := seller.Idle()
	if err != nil {
		return fmt.Errorf("imap idle: %w", err)
	}
	d.detail("INBOX holds %d messages; idling", sel.NumMessages)

	if err := d.sendRequest(); err != nil {
		return err
	}
	if err := d.showReservation(); err != nil {
		return err
	}

	d.say("seller's IDLE wakes up")
	seq, err := waitExists(exists, sel.NumMessages)
	if err != nil {
		return err
	}
	d.detail("* %d EXISTS", seq)
	if err := idle.Close(); err != nil {
		return fmt.Errorf("imap idle done: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("imap idle: %w", err)
	}

	if err := d.readRequest(seller, seq); err != nil {
		return err
	}
	if err := d.sendResponse(); err != nil {
		return err
	}
	return d.readResponse()
}

// waitExists waits for an EXISTS count above before.
func waitExists(exists <-chan uint32, before uint32) (uint32, error) {
	timeout := time.After(demoWait)
	for {
		select {
		case n := <-exists:
			if n > before {
				return n, nil
			}
		case <-timeout:
			return 0, errors.New("no EXISTS during IDLE within " + demoWait.String())
		}
	}
}

func (d *demo) sendRequest() error {
	d.say("buyer sends a paid request over SMTP (AUTH PLAIN)")
	msg := demoMessage{from: d.buyer, to: d.seller.address, subject: "Question",
		headers: [][2]string{{marketplace.HeaderRequestID, demoRequestID}},
		body:    `{"question": "What is the capital of Peru?"}`}
	if err := sendMail(d.smtpAddr, d.smtpTLS, msg); err != nil {
		return err
	}
	d.detail("%s: %s", marketplace.HeaderRequestID, demoRequestID)
	d.detail("250 accepted")
	return nil
}

// showReservation shows the buyer's money held for the request.
func (d *demo) showReservation() error {
	d.say("the server reserved the price from the buyer's wallet")
	b, err := d.balance(d.buyer)
	if err != nil {
		return err
	}
	d.detail("GET /agents/buyer/billing/balance: available %s, reserved %s %s",
		b.Available, b.Reserved, b.Currency)
	if b.Reserved.Compact() != "0.25" {
		return fmt.Errorf("buyer has %s reserved, want 0.25", b.Reserved)
	}
	return nil
}

func (d *demo) readRequest(seller *imapclient.Client, seq uint32) error {
	d.say("seller fetches the request with its reservation stamp")
	h, err := fetchHeader(seller, seq, "From", "Subject", marketplace.HeaderRequestID,
		marketplace.HeaderReservation)
	if err != nil {
		return err
	}
	for _, name := range []string{"From", "Subject", marketplace.HeaderRequestID} {
		d.detail("%s: %s", name, h.Get(name))
	}
	stamp := h.Get(marketplace.HeaderReservation)
	if stamp == "" {
		return errors.New("the request carries no " + marketplace.HeaderReservation)
	}
	d.detail("%s: %s", marketplace.HeaderReservation, stamp)
	return nil
}

func (d *demo) sendResponse() error {
	d.say("seller replies over SMTP with its usage")
	usage := `{"outcomes_returned": 1}`
	msg := demoMessage{from: d.seller, to: d.buyer.address, subject: "Re: Question",
		headers: [][2]string{{marketplace.HeaderRequestID, demoRequestID},
			{marketplace.HeaderUsage, usage}},
		body: `{"answer": "Lima"}`}
	if err := sendMail(d.smtpAddr, d.smtpTLS, msg); err != nil {
		return err
	}
	d.detail("%s: %s", marketplace.HeaderUsage, usage)
	d.detail("250 accepted")
	return nil
}

// readResponse fetches the newest message of the buyer's INBOX, the
// settled response.
func (d *demo) readResponse() error {
	d.say("buyer fetches the response with its settlement stamp")
	buyer, sel, err := dialIMAP(d.imapAddr, d.buyer, nil)
	if err != nil {
		return err
	}
	defer buyer.Close()
	if sel.NumMessages == 0 {
		return errors.New("the buyer's INBOX is empty")
	}
	h, err := fetchHeader(buyer, sel.NumMessages, "Subject", marketplace.HeaderSettlement)
	if err != nil {
		return err
	}
	d.detail("Subject: %s", h.Get("Subject"))
	stamp := h.Get(marketplace.HeaderSettlement)
	if !strings.Contains(stamp, "charged=") {
		return errors.New("the response carries no " + marketplace.HeaderSettlement)
	}
	d.detail("%s: %s", marketplace.HeaderSettlement, stamp)
	return buyer.Logout().Wait()
}
