// Command netns-run runs a package's process the way the control plane
// plays a pod whose container binds fixed ports: chrooted into the image's
// root filesystem, as the image's user, in a network namespace of its own
// whose loopback forwards the given host loopback addresses (the API server,
// the Auth0 simulator) to the host. provider-terraform binds its metrics to
// :8080 with no flag to move it; in its own namespace that port is its own,
// as in a pod.
//
//	netns-run --root DIR --uid N --gid N --forward 127.0.0.1:6443 ... -- /entrypoint args...
//
// The process gets netns-run's environment. SIGTERM and SIGINT are passed
// on; netns-run exits with the process, and the process is killed if
// netns-run dies. It needs root (CAP_SYS_ADMIN for the namespace,
// CAP_SYS_CHROOT, CAP_SETUID).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

type forwards []string

func (f *forwards) String() string     { return strings.Join(*f, ",") }
func (f *forwards) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var (
		root     = flag.String("root", "", "Root filesystem to chroot into.")
		uid      = flag.Int("uid", -1, "User id to run as (not 0).")
		gid      = flag.Int("gid", -1, "Group id to run as.")
		forwards forwards
	)
	flag.Var(&forwards, "forward", "A host loopback address (127.0.0.1:PORT) served inside the namespace at the same address (repeatable).")
	flag.Parse()
	if *root == "" || *uid <= 0 || *gid < 0 || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: netns-run --root DIR --uid N --gid N [--forward 127.0.0.1:PORT]... -- COMMAND [ARGS]...")
		os.Exit(2)
	}
	code, err := run(*root, *uid, *gid, forwards, flag.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "netns-run: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run starts the command from a thread moved into a new network namespace,
// so the child is born in it: its listeners and the forwards exist before
// its first connection attempt.
func run(root string, uid, gid int, fwd, argv []string) (int, error) {
	type started struct {
		cmd *exec.Cmd
		err error
	}
	ready := make(chan started, 1)
	exited := make(chan error, 1)
	go func() {
		// A network namespace belongs to a thread. This goroutine keeps its
		// thread to itself and never gives it back: the thread is in the
		// new namespace, and the child's parent-death signal is tied to it.
		runtime.LockOSThread()
		cmd, err := startInNamespace(root, uid, gid, fwd, argv)
		ready <- started{cmd, err}
		if err != nil {
			return
		}
		exited <- cmd.Wait()
	}()
	s := <-ready
	if s.err != nil {
		return 1, s.err
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	for {
		select {
		case v := <-sig:
			_ = s.cmd.Process.Signal(v)
		case err := <-exited:
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				return ee.ExitCode(), nil
			}
			if err != nil {
				return 1, err
			}
			return 0, nil
		}
	}
}

// startInNamespace runs on a locked thread: it moves the thread into a new
// network namespace, brings its loopback up, listens there on every
// forwarded address (a socket stays in the namespace it was made in), and
// starts the command, which inherits the thread's namespace.
func startInNamespace(root string, uid, gid int, fwd, argv []string) (*exec.Cmd, error) {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("new network namespace: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return nil, err
	}
	for _, addr := range fwd {
		l, err := net.Listen("tcp", addr) //nolint:noctx // Lives as long as the process.
		if err != nil {
			return nil, fmt.Errorf("listen on %s in the namespace: %w", addr, err)
		}
		go serve(l, addr)
	}
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:noctx // Lives as long as netns-run.
	cmd.Env = os.Environ()
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, //nolint:gosec // Checked positive small ids.
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return cmd, nil
}

// loopbackUp sets the namespace's lo up (a new namespace has it down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for lo: %w", err)
	}
	defer unix.Close(fd) //nolint:errcheck // A probe socket.
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// serve accepts in the namespace and connects to the same address on the
// host: the goroutines that dial run on threads still in the host's
// namespace (only the locked thread moved).
func serve(l net.Listener, addr string) {
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "netns-run: accept on %s: %v\n", addr, err)
			return
		}
		go func() {
			defer c.Close()                 //nolint:errcheck // Proxy teardown.
			h, err := net.Dial("tcp", addr) //nolint:noctx // Bounded by the connection's life.
			if err != nil {
				fmt.Fprintf(os.Stderr, "netns-run: forward to %s: %v\n", addr, err)
				return
			}
			defer h.Close() //nolint:errcheck // Proxy teardown.
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(h, c)
			go pipe(c, h)
			<-done
			<-done
		}()
	}
}
