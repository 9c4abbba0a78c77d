package imapd

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"agentmail/internal/envelope"
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
	seqOf := seqLookup(refs)
	var envs map[uint32]*imap.Envelope
	if options.Envelope {
		if envs, err = sess.cachedEnvelopes(refUIDs(refs)); err != nil {
			return sess.storeError("fetch", err)
		}
	}
	for _, m := range metas {
		err := sess.fetchOne(w, seqOf(m.UID), m, options, seenNow[m.UID], envs[m.UID])
		if errors.Is(err, mailstore.ErrNoMessage) {
			continue // expunged since; RFC 9051 section 7.5.2 lets us omit it
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// seqLookup returns the sequence number of each UID of refs, asked for in
// ascending order as the metadata comes. Refs in ascending order, as a
// FETCH of a range has them, are walked alongside; other orders use a map.
func seqLookup(refs []msgRef) func(uid uint32) uint32 {
	if !slices.IsSortedFunc(refs, func(a, b msgRef) int { return cmp.Compare(a.uid, b.uid) }) {
		seqOf := make(map[uint32]uint32, len(refs))
		for _, r := range refs {
			seqOf[r.uid] = r.seq
		}
		return func(uid uint32) uint32 { return seqOf[uid] }
	}
	i := 0
	return func(uid uint32) uint32 {
		for i < len(refs) && refs[i].uid < uid {
			i++
		}
		if i < len(refs) && refs[i].uid == uid {
			return refs[i].seq
		}
		return 0
	}
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

// cachedEnvelopes reads the envelopes computed at delivery (mailstore's
// env bucket), so FETCH ENVELOPE neither reads nor parses the messages.
func (sess *session) cachedEnvelopes(uids []uint32) (map[uint32]*imap.Envelope, error) {
	envs := make(map[uint32]*imap.Envelope, len(uids))
	err := sess.srv.ms.ForEachEnvelope(sess.agent, sess.sel.name, uids,
		func(uid uint32, v []byte) error {
			if sum, err := envelope.Unmarshal(v); err == nil {
				envs[uid] = sum.Envelope
			}
			return nil
		})
	return envs, err
}

func needsContent(options *imap.FetchOptions, env *imap.Envelope) bool {
	return (options.Envelope && env == nil) || options.BodyStructure != nil ||
		len(options.BodySection) > 0 || len(options.BinarySection) > 0 ||
		len(options.BinarySectionSize) > 0
}

func (sess *session) fetchOne(w *imapserver.FetchWriter, seq uint32, m mailstore.Message,
	options *imap.FetchOptions, withFlags bool, env *imap.Envelope) error {
	var c mailstore.Content
	if needsContent(options, env) {
		var err error
		c, err = sess.srv.ms.Open(sess.agent, sess.sel.name, m.UID)
		if err != nil {
			return err
		}
		defer c.Close()
	}
	raw := c.Head // the whole message unless c.Body holds the rest

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
		if env == nil {
			env = envelope.FromHeader(raw).Envelope
		}
		rw.WriteEnvelope(env)
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(bodyStructure(c))
	}
	for _, bs := range options.BodySection {
		if c.Body != nil {
			if err := writeBlobSection(rw, c, bs); err != nil {
				return err
			}
			continue
		}
		buf := bodySection(raw, bs)
		if err := writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		buf := guard(func() []byte { return imapserver.ExtractBinarySection(c.Reader(), bs) })
		if err := writeLiteral(rw.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		n := guard(func() uint32 {
			return imapserver.ExtractBinarySectionSize(c.Reader(), bss)
		})
		rw.WriteBinarySectionSize(bss, n)
	}
	return rw.Close()
}

// writeBlobSection serves a section of a message whose body is a blob file.
// BODY[], BODY[HEADER] and BODY[TEXT], partial or not, are streamed from
// the file without holding the message; other sections are extracted by
// the library from the stream.
//
// TODO: a MIME part of a large message (BODY[1]) and BINARY[] are still
// extracted into memory whole by go-imap before they are written.
func writeBlobSection(rw *imapserver.FetchResponseWriter, c mailstore.Content,
	bs *imap.FetchItemBodySection) error {
	whole := len(bs.Part) == 0 && len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0
	headerEnd := int64(len(c.Head)) // Head is exactly the header section
	var off, n int64
	switch {
	case whole && bs.Specifier == imap.PartSpecifierNone:
		off, n = 0, c.Size
	case whole && bs.Specifier == imap.PartSpecifierHeader:
		off, n = 0, headerEnd
	case whole && bs.Specifier == imap.PartSpecifierText:
		off, n = headerEnd, c.Size-headerEnd
	case len(bs.Part) == 0 && bs.Specifier == imap.PartSpecifierHeader:
		buf := guard(func() []byte {
			return imapserver.ExtractBodySection(bytes.NewReader(c.Head), bs)
		})
		return writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf)
	default:
		buf := guard(func() []byte { return imapserver.ExtractBodySection(c.Reader(), bs) })
		return writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf)
	}
	if p := bs.Partial; p != nil {
		skip := min(p.Offset, n)
		off, n = off+skip, min(n-skip, p.Size)
	}
	wc := rw.WriteBodySection(bs, n)
	_, werr := io.Copy(wc, io.NewSectionReader(contentReaderAt{c}, off, n))
	cerr := wc.Close()
	if werr != nil {
		return fmt.Errorf("write literal: %w", werr)
	}
	return cerr
}

// contentReaderAt reads a stored message as Head followed by its blob body.
type contentReaderAt struct{ c mailstore.Content }

func (r contentReaderAt) ReadAt(p []byte, off int64) (int, error) {
	head := int64(len(r.c.Head))
	if off < head {
		n := copy(p, r.c.Head[off:])
		if n == len(p) {
			return n, nil
		}
		m, err := r.ReadAt(p[n:], head)
		return n + m, err
	}
	return r.c.Body.ReadAt(p, off-head)
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

// bodyStructure falls back to one text/plain part when the message cannot
// be parsed at all. A blob body is read as a stream.
func bodyStructure(c mailstore.Content) imap.BodyStructure {
	bs := guard(func() imap.BodyStructure {
		return imapserver.ExtractBodyStructure(c.Reader())
	})
	return sanitize(bs, uint32(c.Size))
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
