package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memInterval is how often the sampler reads /proc; a peak shorter than
// this can be missed in VmRSS, never in VmHWM.
const memInterval = 20 * time.Millisecond

// Memory is what the sampler saw of the server processes, in KiB. With
// several processes (or processes that fork), RSS figures are sums over the
// given processes and their descendants at each sample.
type Memory struct {
	IdleKiB  int64 `json:"idle_rss_kib"`  // at the start of the run
	PeakKiB  int64 `json:"peak_rss_kib"`  // highest sampled sum of VmRSS
	RiseKiB  int64 `json:"rise_rss_kib"`  // peak minus idle
	HWMKiB   int64 `json:"vm_hwm_kib"`    // sum of VmHWM at the end
	Samples  int   `json:"samples"`       // how many samples were taken
	Procsmax int   `json:"processes_max"` // most processes seen in one sample
}

type memSampler struct {
	pids []int
	quit chan struct{}
	out  chan Memory
}

func startMemSampler(pids []int) *memSampler {
	s := &memSampler{pids: pids, quit: make(chan struct{}), out: make(chan Memory, 1)}
	first := s.sample()
	go s.loop(first)
	return s
}

func (s *memSampler) loop(first sampleSum) {
	m := Memory{IdleKiB: first.rss, PeakKiB: first.rss, Samples: 1, Procsmax: first.procs}
	t := time.NewTicker(memInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			last := s.sample()
			m.PeakKiB = max(m.PeakKiB, last.rss)
			m.HWMKiB = last.hwm
			m.RiseKiB = m.PeakKiB - m.IdleKiB
			s.out <- m
			return
		case <-t.C:
			x := s.sample()
			m.PeakKiB = max(m.PeakKiB, x.rss)
			m.Procsmax = max(m.Procsmax, x.procs)
			m.Samples++
		}
	}
}

func (s *memSampler) stop() Memory {
	close(s.quit)
	return <-s.out
}

type sampleSum struct {
	rss, hwm int64
	procs    int
}

// sample sums VmRSS and VmHWM over the processes and their descendants.
// TODO: a sum of RSS counts shared pages (libraries, shared memory) once
// per process, which flatters a single-process server; Pss from
// smaps_rollup would be fair but costs the kernel a page-table walk per
// process every sample.
func (s *memSampler) sample() sampleSum {
	var sum sampleSum
	seen := map[int]bool{}
	queue := append([]int(nil), s.pids...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		rss, hwm, err := readStatus(pid)
		if err != nil {
			continue // exited between samples
		}
		sum.rss += rss
		sum.hwm += hwm
		sum.procs++
		queue = append(queue, children(pid)...)
	}
	return sum
}

// readStatus returns VmRSS and VmHWM of a process in KiB.
func readStatus(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), ":")
		switch key {
		case "VmRSS":
			rss = kib(value)
		case "VmHWM":
			hwm = kib(value)
		}
	}
	return rss, hwm, nil
}

func kib(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n
}

// children lists a process's child processes from every thread's children
// file (Linux 3.5 and later).
func children(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(field); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
