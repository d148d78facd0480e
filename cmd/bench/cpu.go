package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter reads the CPU time used so far by this process (the clients,
// the local gateway and the functions' handlers) and by the local
// servers, from /proc. CPU time, unlike wall time, hardly changes when
// other work shares the machine, so CPU per GiB is the steadiest figure a
// loaded machine gives. Where /proc is missing only this process is read.
type cpuMeter struct {
	children map[string]int // "versitygw", "dynalite" → pid
}

// newCPUMeter finds the local servers among this process's children.
func newCPUMeter() *cpuMeter {
	m := &cpuMeter{children: map[string]int{}}
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		comm, ppid, _, ok := procStat(pid)
		if !ok || ppid != self {
			continue
		}
		switch comm {
		case "versitygw":
			m.children["versitygw"] = pid
		case "node", "dynalite":
			m.children["dynalite"] = pid
		}
	}
	return m
}

// procStat reads a process's command name, parent and CPU time.
func procStat(pid int) (comm string, ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", 0, 0, false
	}
	comm = s[open+1 : close]
	f := strings.Fields(s[close+1:])
	// After the name: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime (fields 3..15 of stat(5)).
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ, 100 on Linux
	return comm, ppid, time.Duration(ut+st) * time.Second / ticks, true
}

// snapshot records the CPU seconds used so far, by process.
func (m *cpuMeter) snapshot(c *Counts) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.CPU["bench"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	for name, pid := range m.children {
		if _, _, cpu, ok := procStat(pid); ok {
			c.CPU[name] = cpu.Seconds()
		}
	}
}
