package controlplane

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStopByPID starts a detached process the way the control plane does,
// and stops it by its recorded PID from a fresh State, as Down does.
func TestStopByPID(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("this test needs sleep(1): %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := &plane{dir: dir, state: &State{Dir: dir}, running: map[string]*running{}}
	r, err := p.start("sleeper", sleep, []string{"600"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Processes) != 1 || s.Processes[0].PID != r.PID || s.Processes[0].StartTime == 0 {
		t.Fatalf("state records %+v, want the sleeper's PID %d with a start time", s.Processes, r.PID)
	}
	if !s.Alive() {
		t.Fatal("a running process reads as dead")
	}
	// A recorded process with another start time is not ours: never signal it.
	impostor := s.Processes[0]
	impostor.StartTime++
	if alive(impostor) {
		t.Error("a process with a different start time reads as ours")
	}
	if err := Down(dir, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the process still runs after Down")
	}
	if s, _ := Load(dir); s.Alive() || s.Ready {
		t.Error("state still reads as running after Down")
	}
	if !strings.Contains(Tail(r.Log, 5), "sleep 600") {
		t.Errorf("log does not record the command line:\n%s", Tail(r.Log, 5))
	}
}
