package controlplane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one server the control plane started. The start time (in clock
// ticks since boot, from /proc) guards against signalling a reused PID.
type Process struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Log       string `json:"log"`
}

// running is a process started by this program, with its exit observed.
type running struct {
	Process

	exited chan struct{}
	err    error
}

// start launches a server detached in its own session, so it outlives this
// program (make demo leaves the control plane running) and a Ctrl-C in the
// terminal does not reach it. Output goes to logs/<name>.log.
func (p *plane) start(name, bin string, args, env []string) (*running, error) {
	cmd := exec.Command(bin, args...) //nolint:noctx // Outlives this program; stopped by down.
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return p.launch(name, cmd, bin)
}

// startImage runs an unpacked image's entrypoint the way a container
// runtime would, minus namespaces: chrooted into the image's root
// filesystem, as the image's user, with the image's environment only.
func (p *plane) startImage(name string, img *unpacked, args []string) (*running, error) {
	argv := append(slices.Clone(img.Entrypoint[1:]), args...)
	cmd := exec.Command(img.Entrypoint[0], argv...) //nolint:noctx // Outlives this program; stopped by down.
	cmd.Env = img.Env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Chroot:     img.Root,
		Credential: &syscall.Credential{Uid: uint32(img.UID), Gid: uint32(img.GID), Groups: []uint32{}}, //nolint:gosec // Small numeric ids from the image config.
	}
	return p.launch(name, cmd, fmt.Sprintf("%s (image %s@%s, root %s, uid %d)", img.Entrypoint[0], img.Ref, img.Digest, rel(img.Root), img.UID))
}

func (p *plane) launch(name string, cmd *exec.Cmd, what string) (*running, error) {
	logPath := filepath.Join(p.dir, "logs", name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	_, _ = fmt.Fprintf(lf, "\n=== %s %s %s\n", time.Now().Format(time.RFC3339), what, strings.Join(cmd.Args[1:], " "))
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	r := &running{
		Process: Process{Name: name, PID: cmd.Process.Pid, StartTime: startTime(cmd.Process.Pid), Log: logPath},
		exited:  make(chan struct{}),
	}
	go func() {
		r.err = cmd.Wait()
		_ = lf.Close()
		close(r.exited)
	}()
	p.state.Processes = append(p.state.Processes, r.Process)
	p.running[name] = r
	// Record the PID before anything else can fail, so down.sh / Down can
	// always stop what was started.
	if err := p.save(); err != nil {
		return r, err
	}
	p.logf("started %-24s pid %d, log %s", name, r.PID, rel(logPath))
	return r, nil
}

// waitFor polls cond until it holds, the deadline passes, or the process
// (if any) exits. On failure the tail of the process' log is part of the
// error, so the cause is on screen.
func (p *plane) waitFor(ctx context.Context, what string, timeout time.Duration, r *running, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		var exited <-chan struct{}
		if r != nil {
			exited = r.exited
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: process %s exited (%w) before it was ready\n%s", what, r.Name, r.err, Tail(r.Log, 30))
		case <-ctx.Done():
			msg := fmt.Sprintf("%s: not ready after %s", what, timeout)
			if last != nil {
				msg += fmt.Sprintf(" (last error: %v)", last)
			}
			if r != nil {
				msg += "\n" + Tail(r.Log, 30)
			}
			return errors.New(msg)
		case <-tick.C:
		}
	}
}

// Tail returns the last n lines of a log file, framed for printing.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- last %d lines of %s ---\n%s\n---", len(lines), rel(path), strings.Join(lines, "\n"))
}

// startTime reads field 22 of /proc/PID/stat: when the process started.
func startTime(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// alive reports whether the recorded process still runs (a zombie is dead)
// and is the one we started.
func alive(pr Process) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pr.PID))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) || b[i+2] == 'Z' {
		return false
	}
	return pr.StartTime == 0 || startTime(pr.PID) == pr.StartTime
}

// stop sends SIGTERM to one recorded process, waits for it to go, and sends
// SIGKILL when it does not within the grace period.
func stop(pr Process, grace time.Duration) error {
	if !alive(pr) {
		return nil
	}
	if err := syscall.Kill(pr.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", pr.Name, pr.PID, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pr) {
			return nil
		}
		time.Sleep(100 * time.Millisecond) // Polling /proc; there is no wait() on a non-child.
	}
	if err := syscall.Kill(pr.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", pr.Name, pr.PID, err)
	}
	for i := 0; i < 50 && alive(pr); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pr) {
		return fmt.Errorf("%s (pid %d) survived SIGKILL", pr.Name, pr.PID)
	}
	return nil
}

// run executes a short-lived command, logging its output to
// logs/<name>.log; on failure the error ends with the output's last lines.
func (p *plane) run(ctx context.Context, name string, env []string, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = p.state.RepoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if lf, ferr := os.OpenFile(filepath.Join(p.dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); ferr == nil {
		_, _ = fmt.Fprintf(lf, "\n=== %s %s %s\n%s", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "), out.String())
		_ = lf.Close()
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, lastLines(out.String(), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
