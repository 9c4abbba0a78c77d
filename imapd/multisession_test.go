package imapd

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
)

// sessionCase is one change made by session A while others have INBOX
// selected: B polls with NOOP and, with three sessions, C is in IDLE.
type sessionCase struct {
	name    string
	actorIn string             // mailbox A selects
	setup   func(a *rawClient) // before the others drain their updates
	act     func(e *testEnv, a *rawClient) []string
	wantA   []string // A's untagged responses to the change
	want    []string // every other session's, in order
}

const flagsAll = `* FLAGS (\Seen \Answered \Flagged \Deleted \Draft)`

var sessionCases = []sessionCase{
	{
		name: "APPEND", actorIn: "INBOX",
		act:   func(_ *testEnv, a *rawClient) []string { return a.ok("APPEND INBOX {5+}\r\nhello") },
		wantA: []string{"* 4 EXISTS"},
		want:  []string{"* 4 EXISTS"},
	},
	{
		name: "delivery", actorIn: "INBOX",
		act: func(e *testEnv, a *rawClient) []string {
			e.deliver("seller", "INBOX", msg("new", "mail"))
			return a.ok("NOOP")
		},
		wantA: []string{"* 4 EXISTS"},
		want:  []string{"* 4 EXISTS"},
	},
	{
		name: "COPY into", actorIn: "Archive",
		act:  func(_ *testEnv, a *rawClient) []string { return a.ok("COPY 1:2 INBOX") },
		want: []string{"* 4 EXISTS", "* 5 EXISTS"},
	},
	{
		name: "MOVE out", actorIn: "INBOX",
		act:   func(_ *testEnv, a *rawClient) []string { return a.ok("MOVE 2 Archive") },
		wantA: []string{"* OK [COPYUID V 2 3] COPY completed", "* 2 EXPUNGE"},
		want:  []string{"* 2 EXPUNGE"},
	},
	{
		name: "STORE", actorIn: "INBOX",
		act:   func(_ *testEnv, a *rawClient) []string { return a.ok(`STORE 2 +FLAGS (\Flagged)`) },
		wantA: []string{`* 2 FETCH (FLAGS (\Flagged))`},
		want:  []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`},
	},
	{
		name: "UID STORE .SILENT of a new keyword", actorIn: "INBOX",
		act: func(_ *testEnv, a *rawClient) []string {
			return a.ok(`UID STORE 1:2 +FLAGS.SILENT ($Paid)`)
		},
		wantA: []string{flagsAll[:len(flagsAll)-1] + ` $Paid)`},
		want: []string{flagsAll[:len(flagsAll)-1] + ` $Paid)`,
			`* 1 FETCH (UID 1 FLAGS ($Paid))`, `* 2 FETCH (UID 2 FLAGS ($Paid))`},
	},
	{
		name: "EXPUNGE", actorIn: "INBOX",
		setup: func(a *rawClient) { a.ok(`STORE 1,3 +FLAGS.SILENT (\Deleted)`) },
		act:   func(_ *testEnv, a *rawClient) []string { return a.ok("EXPUNGE") },
		wantA: []string{"* 1 EXPUNGE", "* 2 EXPUNGE"},
		want:  []string{"* 1 EXPUNGE", "* 2 EXPUNGE"},
	},
	{
		name: "UID EXPUNGE", actorIn: "INBOX",
		setup: func(a *rawClient) { a.ok(`STORE 1,3 +FLAGS.SILENT (\Deleted)`) },
		act:   func(_ *testEnv, a *rawClient) []string { return a.ok("UID EXPUNGE 3") },
		wantA: []string{"* 3 EXPUNGE"},
		want:  []string{"* 3 EXPUNGE"},
	},
	{
		// CLOSE expunges silently for its own session (RFC 9051 section
		// 6.4.1); the others are told.
		name: "CLOSE", actorIn: "INBOX",
		setup: func(a *rawClient) { a.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`) },
		act:   func(_ *testEnv, a *rawClient) []string { return a.ok("CLOSE") },
		want:  []string{"* 2 EXPUNGE"},
	},
}

var copyUIDValidity = regexp.MustCompile(`COPYUID \d+`)

func normalize(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = copyUIDValidity.ReplaceAllString(l, "COPYUID V")
	}
	return out
}

// TestSessionsSeeEachOthersChanges runs every change with two and with
// three sessions open, and checks each session's untagged responses line
// by line: the actor's own, a polling session's and an idle one's.
func TestSessionsSeeEachOthersChanges(t *testing.T) {
	for _, tc := range sessionCases {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/%d sessions", tc.name, n), func(t *testing.T) {
				runSessionCase(t, tc, n)
			})
		}
	}
}

func runSessionCase(t *testing.T, tc sessionCase, n int) {
	e := newEnv(t, t.TempDir(), "seller")
	for _, s := range []string{"one", "two", "three"} {
		e.deliver("seller", "INBOX", msg(s, s))
	}
	e.deliver("seller", "Archive", msg("old", "1"))
	e.deliver("seller", "Archive", msg("older", "2"))

	a := e.rawDial("seller")
	a.ok("SELECT " + tc.actorIn)
	others := []*rawClient{e.rawDial("seller")}
	if n == 3 {
		others = append(others, e.rawDial("seller"))
	}
	for _, o := range others {
		o.ok("SELECT INBOX")
	}
	if tc.setup != nil {
		tc.setup(a)
		for _, o := range others {
			o.ok("NOOP")
		}
	}
	idler := len(others) == 2
	if idler {
		others[1].idle()
	}

	gotA := normalize(tc.act(e, a))
	if !slices.Equal(gotA, tc.wantA) {
		t.Errorf("A saw %q\nwant   %q", gotA, tc.wantA)
	}
	if got := others[0].ok("NOOP"); !slices.Equal(got, tc.want) {
		t.Errorf("B (NOOP) saw %q\nwant        %q", got, tc.want)
	}
	if idler {
		c := others[1]
		got := c.idleRead(len(tc.want))
		if rest := c.done(); len(rest) > 0 {
			got = append(got, rest...)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("C (IDLE) saw %q\nwant        %q", got, tc.want)
		}
	}
	// Nothing is told twice.
	for i, o := range others {
		if got := o.ok("NOOP"); len(got) > 0 {
			t.Errorf("session %d heard again: %q", i+1, got)
		}
	}
	if got := a.ok("NOOP"); len(got) > 0 {
		t.Errorf("A heard again: %q", got)
	}
}
