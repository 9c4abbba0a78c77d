package imapd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"agentmail/internal/rawmsg"
	"agentmail/mailstore"
)

// fetchChunk is how many messages' metadata Fetch reads at a time, so
// that FETCH 1:* of a large mailbox needs little memory.
const fetchChunk = 512

// Fetch implements imapserver.Session. Metadata is read a chunk at a time
// and message bytes one message at a time, out of any lock and read
// transaction, so a slow client holds up nobody.
func (sess *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet,
	options *imap.FetchOptions) error {
	refs := sess.sel.resolve(numSet)
	for len(refs) > 0 {
		n := min(len(refs), fetchChunk)
		if err := sess.fetchChunk(w, refs[:n], options); err != nil {
			return err
		}
		refs = refs[n:]
	}
	return nil
}

func (sess *session) fetchChunk(w *imapserver.FetchWriter, refs []msgRef,
	options *imap.FetchOptions) error {
	metas, err := sess.srv.ms.Messages(sess.agent, sess.sel.name, refUIDs(refs))
	if err != nil {
		return sess.storeError("fetch", err)
	}
	metas, seenNow, err := sess.markSeen(metas, options)
	if err != nil {
		return err
	}
	seqOf := make(map[uint32]uint32, len(refs))
	for _, r := range refs {
		seqOf[r.uid] = r.seq
	}
	for _, m := range metas {
		err := sess.fetchOne(w, seqOf[m.UID], m, options, seenNow[m.UID])
		if errors.Is(err, mailstore.ErrNoMessage) {
			continue // expunged since; RFC 9051 section 7.5.2 lets us omit it
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// markSeen sets \Seen on the messages whose body is fetched without PEEK
// (RFC 9051 section 6.4.5), except in a read-only mailbox, and reports
// which messages changed so their FLAGS go into the response.
func (sess *session) markSeen(metas []mailstore.Message,
	options *imap.FetchOptions) ([]mailstore.Message, map[uint32]bool, error) {
	if sess.sel.readOnly || !fetchesBody(options) {
		return metas, nil, nil
	}
	var unseen []uint32
	for _, m := range metas {
		if !mailstore.HasFlag(m.Flags, string(imap.FlagSeen)) {
			unseen = append(unseen, m.UID)
		}
	}
	if len(unseen) == 0 {
		return metas, nil, nil
	}
	changed, err := sess.srv.ms.StoreFlags(sess.agent, sess.sel.name, unseen,
		mailstore.FlagsAdd, []string{string(imap.FlagSeen)}, sess.sel.tracker)
	if err != nil {
		return nil, nil, sess.storeError("fetch", err)
	}
	seenNow := make(map[uint32]bool, len(changed))
	flagsOf := make(map[uint32][]string, len(changed))
	for _, m := range changed {
		seenNow[m.UID] = true
		flagsOf[m.UID] = m.Flags
	}
	for i := range metas {
		if f, ok := flagsOf[metas[i].UID]; ok {
			metas[i].Flags = f
		}
	}
	return metas, seenNow, nil
}

func fetchesBody(options *imap.FetchOptions) bool {
	for _, bs := range options.BodySection {
		if !bs.Peek {
			return true
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			return true
		}
	}
	return false
}

func needsRaw(options *imap.FetchOptions) bool {
	return options.Envelope || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
}

func (sess *session) fetchOne(w *imapserver.FetchWriter, seq uint32, m mailstore.Message,
	options *imap.FetchOptions, withFlags bool) error {
	var raw []byte
	if needsRaw(options) {
		var err error
		raw, err = sess.srv.ms.Raw(sess.agent, sess.sel.name, m.UID)
		if err != nil {
			return err
		}
	}

	rw := w.CreateMessage(seq)
	if options.UID {
		rw.WriteUID(imap.UID(m.UID))
	}
	if options.Flags || withFlags {
		rw.WriteFlags(imapFlags(m.Flags))
	}
	if options.InternalDate {
		rw.WriteInternalDate(m.InternalDate)
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(m.Size)
	}
	if options.Envelope {
		rw.WriteEnvelope(envelope(raw))
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(bodyStructure(raw))
	}
	for _, bs := range options.BodySection {
		buf := bodySection(raw, bs)
		if err := writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		buf := guard(func() []byte { return imapserver.ExtractBinarySection(bytes.NewReader(raw), bs) })
		if err := writeLiteral(rw.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		n := guard(func() uint32 {
			return imapserver.ExtractBinarySectionSize(bytes.NewReader(raw), bss)
		})
		rw.WriteBinarySectionSize(bss, n)
	}
	return rw.Close()
}

// bodySection serves BODY[], BODY[HEADER] and BODY[TEXT] of the whole
// message from the stored bytes themselves, so a message the MIME parser
// refuses still comes back exactly as stored; other sections go through
// the library's parser.
func bodySection(raw []byte, bs *imap.FetchItemBodySection) []byte {
	if len(bs.Part) > 0 || len(bs.HeaderFields) > 0 || len(bs.HeaderFieldsNot) > 0 {
		return guard(func() []byte { return imapserver.ExtractBodySection(bytes.NewReader(raw), bs) })
	}
	header, text := splitHeader(raw)
	var buf []byte
	switch bs.Specifier {
	case imap.PartSpecifierNone:
		buf = raw
	case imap.PartSpecifierHeader:
		buf = header
	case imap.PartSpecifierText:
		buf = text
	default:
		return guard(func() []byte { return imapserver.ExtractBodySection(bytes.NewReader(raw), bs) })
	}
	return partial(buf, bs.Partial)
}

// splitHeader cuts a message after the empty line that ends its header
// (RFC 5322 section 2.1), whichever line ending it uses; with no such line,
// all of it is header.
func splitHeader(raw []byte) (header, text []byte) {
	end := -1
	for _, sep := range []string{"\r\n\r\n", "\n\n", "\n\r\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 && (end < 0 || i+len(sep) < end) {
			end = i + len(sep)
		}
	}
	switch {
	case bytes.HasPrefix(raw, []byte("\r\n")):
		end = 2
	case bytes.HasPrefix(raw, []byte("\n")):
		end = 1
	case end < 0:
		return raw, nil
	}
	return raw[:end], raw[end:]
}

// partial applies <offset.size> (RFC 9051 section 6.4.5).
func partial(buf []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return buf
	}
	if p.Offset >= int64(len(buf)) {
		return nil
	}
	buf = buf[p.Offset:]
	if p.Size < int64(len(buf)) {
		buf = buf[:p.Size]
	}
	return buf
}

func writeLiteral(wc interface {
	Write([]byte) (int, error)
	Close() error
}, buf []byte) error {
	_, werr := wc.Write(buf)
	cerr := wc.Close()
	if werr != nil {
		return fmt.Errorf("write literal: %w", werr)
	}
	return cerr
}

// guard runs a parser on stored bytes, which may be anything a sender
// managed to get accepted; a panic in the parser yields the zero value
// instead of ending the session.
func guard[T any](f func() T) (out T) {
	defer func() {
		if recover() != nil {
			var zero T
			out = zero
		}
	}()
	return f()
}

// envelope reads the header the way the rest of agentmail does
// (rawmsg.ScanHeader): a malformed line is skipped rather than ending the
// header, so fields after it still reach the envelope, and the first of
// repeated fields wins. Values that do not parse are left out.
func envelope(raw []byte) *imap.Envelope {
	fields, _ := rawmsg.ScanHeader(raw)
	var h textproto.Header
	// Add puts a field before earlier ones of the same name; adding in
	// reverse keeps the message's order. Date is parsed here, faster.
	for i := len(fields) - 1; i >= 0; i-- {
		if !strings.EqualFold(fields[i].Name, "Date") {
			h.Add(fields[i].Name, fields[i].Value)
		}
	}
	env := guard(func() *imap.Envelope { return imapserver.ExtractEnvelope(h) })
	if env == nil {
		env = &imap.Envelope{}
	}
	env.Date, _ = parseDate(firstValue(fields, "Date"))
	return env
}

// bodyStructure falls back to one text/plain part when the message cannot
// be parsed at all.
func bodyStructure(raw []byte) imap.BodyStructure {
	bs := guard(func() imap.BodyStructure {
		return imapserver.ExtractBodyStructure(bytes.NewReader(raw))
	})
	return sanitize(bs, uint32(len(raw)))
}

// sanitize replaces what the library cannot write: a missing structure, or
// a multipart without parts (a boundary that never appears), which becomes
// one text/plain part of the given size.
func sanitize(bs imap.BodyStructure, size uint32) imap.BodyStructure {
	mp, ok := bs.(*imap.BodyStructureMultiPart)
	if bs != nil && !ok {
		return bs
	}
	if ok && len(mp.Children) > 0 {
		for i, child := range mp.Children {
			mp.Children[i] = sanitize(child, 0)
		}
		return mp
	}
	return &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain",
		Encoding: "7bit", Size: size, Text: &imap.BodyStructureText{},
		Extended: &imap.BodyStructureSinglePartExt{}}
}
