// Package ociimage builds small, reproducible container images from files on
// the build machine, without a container engine and without pulling a base
// image: an empty image, a base layer with what a static binary running as
// a non-root user needs, and one layer with the application's files.
//
// Everything that lands in the image is a function of the inputs: entries are
// sorted, owned by fixed ids, and stamped with Spec.Created (make packages
// passes SOURCE_DATE_EPOCH), so the same inputs built with the same Go
// toolchain give the same image digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The non-root user every image runs as, as in distroless' nonroot images.
const (
	NonRootUID  = 65532
	NonRootName = "nonroot"
	NonRootHome = "/home/nonroot"
)

// CABundlePath is where the base layer puts the CA bundle: the path Go's
// crypto/x509 (and OpenSSL on Debian) read on Linux.
const CABundlePath = "/etc/ssl/certs/ca-certificates.crt"

// PathEnv is the PATH every image sets, before Spec.Env.
const PathEnv = "PATH=/usr/local/bin:/usr/bin:/bin"

// LabelCreated is the OCI annotation key the builder sets from Spec.Created.
const LabelCreated = "org.opencontainers.image.created"

// File is one file or directory tree copied from the build machine into the
// application layer.
type File struct {
	// Src is a path on the build machine. A directory is copied with
	// everything below it.
	Src string
	// Dst is the absolute path in the image.
	Dst string
	// Mode of a regular file in the image as tar mode bits (e.g. 0o755);
	// 0 derives it from Src: 0755 if any execute bit is set, 0644 otherwise,
	// so the build machine's umask does not change the digest. Not allowed
	// for a directory.
	Mode int64
}

// ParseFile parses SRC=DST[:MODE], MODE in octal (e.g. bin/function=/function:0755).
func ParseFile(s string) (File, error) {
	src, dst, ok := strings.Cut(s, "=")
	if !ok || src == "" || dst == "" {
		return File{}, fmt.Errorf("file %q: want SRC=DST[:MODE]", s)
	}
	f := File{Src: src, Dst: dst}
	if i := strings.LastIndex(dst, ":"); i >= 0 {
		m, err := strconv.ParseUint(dst[i+1:], 8, 32)
		if err != nil || m == 0 || m > 0o7777 {
			return File{}, fmt.Errorf("file %q: mode %q is not an octal permission such as 0755", s, dst[i+1:])
		}
		f.Dst, f.Mode = dst[:i], int64(m)
	}
	if !path.IsAbs(f.Dst) || path.Clean(f.Dst) != f.Dst || f.Dst == "/" {
		return File{}, fmt.Errorf("file %q: destination %q must be a clean absolute path", s, f.Dst)
	}
	return f, nil
}

// Spec describes one image.
type Spec struct {
	// OS and Architecture of the image, e.g. linux and arm64. They must
	// match the binaries in Files; the builder does not inspect them.
	OS, Architecture string
	// Files make up the application layer, on top of the base layer.
	Files []File
	// Entrypoint and Cmd as in the image config.
	Entrypoint, Cmd []string
	// Env entries KEY=VALUE, after the PATH the builder sets.
	Env []string
	// ExposedPorts such as 9443/tcp.
	ExposedPorts []string
	// Labels of the image config; LabelCreated is set from Created.
	Labels map[string]string
	// Created stamps the config, the history and every layer entry.
	Created time.Time
	// WritableDirs are empty directories (clean absolute paths) in the
	// application layer that any user may write, sticky like /tmp (01777,
	// owned by root): where an application keeps its working files. Not
	// owned by the image's user, since the pod's user is whoever the
	// cluster runs it as (Crossplane's default for a package is 2000, not
	// the image's 65532).
	WritableDirs []string
	// CABundle is the PEM bundle at CABundlePath; nil uses the Mozilla
	// (NSS) roots Go ships in golang.org/x/crypto/x509roots/fallback, pinned
	// in go.sum, so that the build machine's certificates do not change the
	// image.
	CABundle []byte
}

// Build builds the image Spec describes.
func Build(s Spec) (v1.Image, error) {
	if s.OS == "" || s.Architecture == "" {
		return nil, errors.New("image needs an OS and an architecture")
	}
	if len(s.Entrypoint) == 0 {
		return nil, errors.New("image needs an entrypoint")
	}
	if s.Created.IsZero() {
		return nil, errors.New("image needs a creation time (SOURCE_DATE_EPOCH)")
	}
	created := s.Created.UTC()
	ca := s.CABundle
	if ca == nil {
		var err error
		if ca, err = GoRootsPEM(); err != nil {
			return nil, err
		}
	}
	base, err := layer(baseEntries(ca), created)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	appEntries, err := fileEntries(s.Files)
	if err != nil {
		return nil, fmt.Errorf("application layer: %w", err)
	}
	writable, err := writableEntries(s.WritableDirs)
	if err != nil {
		return nil, err
	}
	app, err := layer(append(appEntries, writable...), created)
	if err != nil {
		return nil, fmt.Errorf("application layer: %w", err)
	}

	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "ociimage: base (nonroot user, CA bundle, /tmp)"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "ociimage: " + describe(s.Files)}},
	)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = s.OS, s.Architecture
	cf.Created = v1.Time{Time: created}
	cf.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = s.Cmd
	cf.Config.Env = append([]string{PathEnv}, s.Env...)
	if len(s.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.ExposedPorts {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	cf.Config.Labels = map[string]string{}
	maps.Copy(cf.Config.Labels, s.Labels)
	cf.Config.Labels[LabelCreated] = created.Format(time.RFC3339)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// GoRootsPEM returns the unconstrained roots of Go's copy of the Mozilla
// trust store as a PEM bundle. Roots Mozilla distrusts after a date carry a
// constraint a PEM file cannot express; they are left out rather than
// trusted without it.
func GoRootsPEM() ([]byte, error) {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if _, err := x509.ParseCertificate(r.Certificate); err != nil {
			return nil, fmt.Errorf("parse Go root certificate: %w", err)
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		return nil, errors.New("no root certificates in golang.org/x/crypto/x509roots/fallback")
	}
	return b.Bytes(), nil
}

// entry is one tar entry of a layer.
type entry struct {
	name     string // absolute path
	typ      byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode     int64
	uid, gid int
	data     []byte // regular files
	src      string // regular files read at write time
	link     string // symlinks
}

// baseEntries is what a static binary expects of a Linux root file system.
func baseEntries(ca []byte) []entry {
	dir := func(n string, mode int64) entry { return entry{name: n, typ: tar.TypeDir, mode: mode} }
	file := func(n, s string) entry { return entry{name: n, typ: tar.TypeReg, mode: 0o644, data: []byte(s)} }
	home := dir(NonRootHome, 0o700)
	home.uid, home.gid = NonRootUID, NonRootUID
	return []entry{
		dir("/etc", 0o755),
		file("/etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", NonRootName, NonRootUID, NonRootUID, NonRootName, NonRootHome)),
		file("/etc/group", fmt.Sprintf("root:x:0:\nnobody:x:65534:\n%s:x:%d:\n", NonRootName, NonRootUID)),
		dir("/etc/ssl", 0o755),
		dir("/etc/ssl/certs", 0o755),
		{name: CABundlePath, typ: tar.TypeReg, mode: 0o644, data: ca},
		dir("/home", 0o755),
		home,
		dir("/root", 0o700),
		dir("/tmp", 0o1777),
	}
}

// writableEntries are the directories the non-root user owns.
func writableEntries(dirs []string) ([]entry, error) {
	out := make([]entry, 0, len(dirs))
	for _, d := range dirs {
		if !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
			return nil, fmt.Errorf("writable directory %q must be a clean absolute path", d)
		}
		out = append(out, entry{name: d, typ: tar.TypeDir, mode: 0o1777})
	}
	return out, nil
}

// WriteBase writes, as an uncompressed tar, what Build puts under the
// application's files: the base layer with the CA bundle ca (nil: Go's
// roots, as in Build) and the writable directories. The Dockerfiles
// extract it in their build stage, so an image built by docker build has
// the same base files as one Build makes, from this one list.
func WriteBase(w io.Writer, ca []byte, writableDirs []string, created time.Time) error {
	if ca == nil {
		var err error
		if ca, err = GoRootsPEM(); err != nil {
			return err
		}
	}
	writable, err := writableEntries(writableDirs)
	if err != nil {
		return err
	}
	return writeTar(w, append(baseEntries(ca), writable...), created.UTC())
}

// fileEntries walks Files into entries owned by root, adding their parent
// directories (0755).
func fileEntries(files []File) ([]entry, error) {
	var out []entry
	for _, f := range files {
		fi, err := os.Stat(f.Src)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			mode := f.Mode
			if mode == 0 {
				mode = normalMode(fi.Mode())
			}
			out = append(out, entry{name: f.Dst, typ: tar.TypeReg, mode: mode, src: f.Src})
			continue
		}
		if f.Mode != 0 {
			return nil, fmt.Errorf("%s is a directory: a mode applies to a file only", f.Src)
		}
		err = filepath.WalkDir(f.Src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(f.Src, p)
			if err != nil {
				return err
			}
			name := path.Join(f.Dst, filepath.ToSlash(rel))
			switch {
			case d.IsDir():
				out = append(out, entry{name: name, typ: tar.TypeDir, mode: 0o755})
			case d.Type()&fs.ModeSymlink != 0:
				link, err := os.Readlink(p)
				if err != nil {
					return err
				}
				out = append(out, entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: link})
			case d.Type().IsRegular():
				info, err := d.Info()
				if err != nil {
					return err
				}
				out = append(out, entry{name: name, typ: tar.TypeReg, mode: normalMode(info.Mode()), src: p})
			default:
				return fmt.Errorf("%s: only files, directories and symlinks can go into an image", p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func normalMode(m fs.FileMode) int64 {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// layer writes entries with writeTar and wraps the tar as a gzip layer.
func layer(entries []entry, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := writeTar(&buf, entries, created); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// writeTar writes entries, plus any missing parent directories, sorted by
// path, into an uncompressed tar.
func writeTar(w io.Writer, entries []entry, created time.Time) error {
	byName := map[string]entry{}
	for _, e := range entries {
		if prev, dup := byName[e.name]; dup && (prev.typ != tar.TypeDir || e.typ != tar.TypeDir || prev.uid != e.uid) {
			return fmt.Errorf("%s is in the layer twice", e.name)
		}
		byName[e.name] = e
		for d := path.Dir(e.name); d != "/"; d = path.Dir(d) {
			if _, ok := byName[d]; !ok {
				byName[d] = entry{name: d, typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)

	tw := tar.NewWriter(w)
	for _, n := range names {
		e := byName[n]
		h := &tar.Header{
			Typeflag: e.typ,
			Name:     strings.TrimPrefix(n, "/"),
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  created,
		}
		data := e.data
		if e.typ == tar.TypeReg && e.src != "" {
			var err error
			if data, err = os.ReadFile(e.src); err != nil {
				return err
			}
		}
		if e.typ == tar.TypeDir {
			h.Name += "/"
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return tw.Close()
}

func describe(files []File) string {
	parts := make([]string, 0, len(files))
	for _, f := range files {
		parts = append(parts, f.Dst)
	}
	return "add " + strings.Join(parts, " ")
}

// Entry is one entry of an image's flattened file system.
type Entry struct {
	Header *tar.Header
	Data   []byte
}

// Contents flattens img's layers into its file system, keyed by absolute
// path: what a container of the image would see.
func Contents(img v1.Image) (map[string]Entry, error) {
	rc := mutate.Extract(img)
	defer rc.Close() //nolint:errcheck // Read-only.
	out := map[string]Entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the image's file system: %w", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", h.Name, err)
		}
		out["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = Entry{Header: h, Data: b}
	}
}
