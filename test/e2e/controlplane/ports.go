package controlplane

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The servers of a plane are separate programs that bind their ports
// themselves, some time after the plane chose them. Two things could take a
// chosen port in between: an outgoing connection given it as its ephemeral
// port, and another plane (make e2e starts the two flavours' planes side by
// side) choosing it too. So ports are chosen below the kernel's ephemeral
// range, which outgoing connections never get, and each is reserved
// machine-wide with a file that other planes respect until it is old
// enough that its server has long bound it (or never will).

// portReservationTTL is how long a chosen port is kept from other planes.
const portReservationTTL = 15 * time.Minute

// portAttempts bounds the search for a free port.
const portAttempts = 200

// portRange is where ports are chosen: the 10,000 ports below the ephemeral
// range (/proc/sys/net/ipv4/ip_local_port_range), or 20000-29999 when it
// cannot be read or leaves too little room below it.
func portRange() (lo, hi int) {
	lo, hi = 20000, 30000
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return lo, hi
	}
	eph, err := strconv.Atoi(f[0])
	if err != nil || eph < 11024 {
		return lo, hi
	}
	return eph - 10000, eph
}

// reservations is the folder of reserved ports, shared by every plane of
// this machine.
func reservations() string { return filepath.Join(os.TempDir(), "auth0-eventstream-ports") }

func freePort() (int, error) {
	dir := reservations()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	lo, hi := portRange()
	for range portAttempts {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(hi-lo)))
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := lo + int(n.Int64())
		if !reserve(dir, port) {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)) //nolint:noctx // Binding a loopback port returns at once; nothing to cancel.
		if err != nil {
			continue // in use by something that is not a plane; the reservation keeps others off it too
		}
		_ = l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("find a free port: none of %d tries in %d-%d was free", portAttempts, lo, hi-1)
}

// reserve takes port for this plane unless another plane reserved it within
// portReservationTTL.
func reserve(dir string, port int) bool {
	path := filepath.Join(dir, strconv.Itoa(port))
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_ = f.Close()
			return true
		}
		if !errors.Is(err, os.ErrExist) {
			return false
		}
		fi, err := os.Stat(path)
		if err != nil || time.Since(fi.ModTime()) < portReservationTTL {
			return false
		}
		// Stale: whatever chose it bound it long ago, or never will.
		_ = os.Remove(path)
	}
	return false
}
