package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressRedrawEvery bounds how often the bar is redrawn.
const progressRedrawEvery = 100 * time.Millisecond

// progressBarWidth is the bar's width in characters.
const progressBarWidth = 30

// progress draws a one-line bar on a terminal as bytes pass through it. A
// nil *progress draws nothing, so callers need not ask whether there is a
// terminal.
type progress struct {
	term  io.Writer
	label string
	total int64 // -1 while unknown
	done  int64
	drawn time.Time
}

// newProgress returns a bar on w when w is a terminal, else nil.
func newProgress(w io.Writer, label string) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progress{term: w, label: label, total: -1}
}

// setTotal records how many bytes to expect.
func (p *progress) setTotal(n int64) {
	if p != nil {
		p.total = n
	}
}

// wrap returns w counting into the bar.
func (p *progress) wrap(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return &progressWriter{w: w, p: p}
}

func (p *progress) add(n int) {
	p.done += int64(n)
	if time.Since(p.drawn) >= progressRedrawEvery {
		p.draw()
	}
}

func (p *progress) draw() {
	p.drawn = time.Now()
	fmt.Fprint(p.term, "\r"+renderProgress(p.label, p.done, p.total))
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p != nil {
		p.draw()
		fmt.Fprintln(p.term)
	}
}

// renderProgress is one frame of the bar: label, bar, percent and sizes.
func renderProgress(label string, done, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%s %s", label, mib(done))
	}
	frac := min(float64(done)/float64(total), 1)
	filled := int(frac * progressBarWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", progressBarWidth-filled)
	return fmt.Sprintf("%s [%s] %3.0f%% %s / %s", label, bar, frac*100, mib(done), mib(total))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type progressWriter struct {
	w io.Writer
	p *progress
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.add(n)
	return n, err
}
