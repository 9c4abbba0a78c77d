package load

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// barWidth is the number of cells in the progress bar.
const barWidth = 30

// ProgressBar returns a Config.Progress that redraws one line on w (a
// terminal): a bar, the count and the rate so far. The last call, with
// done == total, ends the line.
func ProgressBar(w io.Writer) func(done, total int, elapsed time.Duration) {
	return func(done, total int, elapsed time.Duration) {
		filled := 0
		if total > 0 {
			filled = min(done*barWidth/total, barWidth)
		}
		rate := 0.0
		if elapsed > 0 {
			rate = float64(done) / elapsed.Seconds()
		}
		fmt.Fprintf(w, "\r[%s%s] %d/%d  %.0f msg/s  %s ", strings.Repeat("#", filled),
			strings.Repeat(" ", barWidth-filled), done, total, rate, elapsed.Round(time.Second))
		if done >= total {
			fmt.Fprintln(w)
		}
	}
}
