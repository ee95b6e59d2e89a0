package controlplane

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// unpacked is a package's runtime image pulled from the registry and
// unpacked into a root filesystem.
type unpacked struct {
	Ref    string
	Digest string
	Root   string
	// Entrypoint, Env and the numeric user come from the image config;
	// playRevision then lays the pod's user and variables over them
	// (pod.go), as a container runtime does.
	Entrypoint []string
	Env        []string
	UID, GID   int
}

// pullImage fetches ref for linux on this machine's architecture from the
// registry (trusting its CA only) and unpacks its layers into root.
func pullImage(ctx context.Context, ref, caFile, root string) (*unpacked, error) {
	r, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read registry CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // net/http makes DefaultTransport an *http.Transport.
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return nil, fmt.Errorf("pull %s for linux/%s: %w", ref, runtime.GOARCH, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("digest of %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", ref, err)
	}
	if len(cfg.Config.Entrypoint) == 0 {
		return nil, fmt.Errorf("image %s has no entrypoint", ref)
	}
	uid, gid, err := numericUser(cfg.Config.User)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, fmt.Errorf("clean %s: %w", root, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close() //nolint:errcheck // Read-only.
	if err := untar(rc, root); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", ref, err)
	}
	return &unpacked{Ref: ref, Digest: digest.String(), Root: root, Entrypoint: cfg.Config.Entrypoint, Env: cfg.Config.Env, UID: uid, GID: gid}, nil
}

// numericUser parses an image's USER as uid[:gid]. A runtime image must
// name a non-root user by number: a name would need the image's
// /etc/passwd to resolve, and Kubernetes' runAsNonRoot refuses names.
func numericUser(user string) (uid, gid int, err error) {
	if user == "" {
		return 0, 0, errors.New("no USER: it would run as root")
	}
	u, g, found := strings.Cut(user, ":")
	uid, err = strconv.Atoi(u)
	if err != nil {
		return 0, 0, fmt.Errorf("USER %q is not numeric", user)
	}
	gid = uid
	if found {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("USER %q has a non-numeric group", user)
		}
	}
	if uid == 0 {
		return 0, 0, fmt.Errorf("USER %q is root", user)
	}
	return uid, gid, nil
}

// untar writes a flattened image filesystem under root, keeping modes and
// owners, and refuses entries that would land outside root.
func untar(r io.Reader, root string) error { //nolint:gocognit // One case per tar entry type, each with its own safety check.
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target, err := within(root, h.Name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := h.FileInfo().Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil { //nolint:gosec // Our own images, sized by the registry.
				_ = f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// Resolved inside the chroot, so an absolute target is fine.
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			src, err := within(root, h.Linkname)
			if err != nil {
				return err
			}
			if err := os.Link(src, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported tar entry type %q", h.Name, h.Typeflag)
		}
		if h.Typeflag == tar.TypeLink {
			continue // Shares the inode, owner and mode of its target.
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
			return err
		}
		// chown clears setuid bits and MkdirAll leaves an existing folder's
		// mode alone: set the mode last (a symlink has none of its own).
		if h.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(target, mode); err != nil {
				return err
			}
		}
	}
}

func within(root, name string) (string, error) {
	target := filepath.Join(root, filepath.Clean("/"+name))
	if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
		return "", fmt.Errorf("tar entry %q escapes the root", name)
	}
	return target, nil
}
