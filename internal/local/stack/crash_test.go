package stack

import (
	"context"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerDeathIsReported kills a server behind the stack's back: Err and
// Close must say which one died, instead of tests failing later with
// "connection refused".
func TestServerDeathIsReported(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Err(); err != nil {
		t.Fatalf("Err on a healthy stack: %v", err)
	}
	if err := syscall.Kill(s.versitygw.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.versitygw.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("versitygw did not exit after SIGKILL")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "versitygw") || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err after versitygw died = %v", err)
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "versitygw") {
		t.Errorf("Close after versitygw died = %v", err)
	}
	select {
	case <-s.dynalite.Exited():
	default:
		t.Error("Close left dynalite running")
	}
}

// TestServersOutliveTheirStartingThread starts a stack from a goroutine that
// is locked to its OS thread and exits while locked, so the runtime ends
// that thread; the servers (which die with the thread that forked them, by
// Pdeathsig) must still run.
func TestServersOutliveTheirStartingThread(t *testing.T) {
	type result struct {
		s   *Stack
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		s, err := Start(context.Background(), Options{})
		done <- result{s, err}
		// Returning while locked ends this OS thread.
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.s.Close()
	time.Sleep(500 * time.Millisecond)
	if err := r.s.Err(); err != nil {
		t.Fatalf("a server died with the thread that started the stack: %v", err)
	}
}
