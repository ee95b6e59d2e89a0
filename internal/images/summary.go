package images

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

// Summary is what two builds of one image must agree on, whatever built
// them: the config a container runtime uses and every file with its type,
// owner, mode and content. Layering, timestamps and the created label are
// left out: they differ between builders and do not change what runs.
type Summary struct {
	Platform   string
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	// Ports sorted.
	Ports  []string
	Labels map[string]string
	// Files by absolute path, "/" itself left out.
	Files map[string]File
}

// File is one file of a Summary.
type File struct {
	// Type is d (directory), f (regular file) or l (symlink).
	Type     string
	Mode     int64 // permission, setuid, setgid and sticky bits
	UID, GID int
	// Content is the SHA-256 of a file's data, or a symlink's target.
	Content string
}

func (f File) String() string {
	return fmt.Sprintf("%s %04o %d:%d %s", f.Type, f.Mode, f.UID, f.GID, f.Content)
}

// Summarize reads img's config and flattened file system.
func Summarize(img v1.Image) (Summary, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return Summary{}, fmt.Errorf("read the image config: %w", err)
	}
	s := Summary{
		Platform:   cf.OS + "/" + cf.Architecture,
		User:       cf.Config.User,
		Entrypoint: cf.Config.Entrypoint,
		Cmd:        cf.Config.Cmd,
		Env:        cf.Config.Env,
		Ports:      slices.Sorted(maps.Keys(cf.Config.ExposedPorts)),
		Labels:     maps.Clone(cf.Config.Labels),
		Files:      map[string]File{},
	}
	delete(s.Labels, ociimage.LabelCreated)
	entries, err := ociimage.Contents(img)
	if err != nil {
		return Summary{}, err
	}
	for p, e := range entries {
		if p == "/" {
			continue
		}
		f, err := FileOf(e.Header, e.Data)
		if err != nil {
			return Summary{}, fmt.Errorf("%s: %w", p, err)
		}
		s.Files[p] = f
	}
	return s, nil
}

// FileOf summarizes one tar entry.
func FileOf(h *tar.Header, data []byte) (File, error) {
	f := File{Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid}
	switch h.Typeflag {
	case tar.TypeDir:
		f.Type = "d"
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // Older writers still emit TypeRegA.
		f.Type = "f"
		sum := sha256.Sum256(data)
		f.Content = hex.EncodeToString(sum[:])
	case tar.TypeSymlink:
		f.Type, f.Content = "l", h.Linkname
	default:
		return File{}, fmt.Errorf("tar entry type %q: only directories, files and symlinks are expected", h.Typeflag)
	}
	return f, nil
}

// Diff lists how got differs from want, one line per config field or file,
// naming it; nil when they agree.
func (want Summary) Diff(got Summary) []string {
	var out []string
	field := func(name string, w, g any) {
		if ws, gs := fmt.Sprintf("%q", w), fmt.Sprintf("%q", g); ws != gs {
			out = append(out, fmt.Sprintf("%s: want %s, got %s", name, ws, gs))
		}
	}
	field("platform", want.Platform, got.Platform)
	field("user", want.User, got.User)
	field("entrypoint", want.Entrypoint, got.Entrypoint)
	field("cmd", want.Cmd, got.Cmd)
	field("env", want.Env, got.Env)
	field("exposed ports", want.Ports, got.Ports)
	out = append(out, mapDiff("label", "%q", want.Labels, got.Labels)...)
	out = append(out, mapDiff("file", "%s", want.Files, got.Files)...)
	return out
}

func union[V any](a, b map[string]V) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	out := slices.Collect(maps.Keys(keys))
	sort.Strings(out)
	return out
}

// mapDiff names each key of want and got whose value differs, is missing
// or is not wanted; verb formats a value.
func mapDiff[V comparable](what, verb string, want, got map[string]V) []string {
	var out []string
	for _, k := range union(want, got) {
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !gok:
			out = append(out, fmt.Sprintf("%s %s: want "+verb+", missing", what, k, w))
		case !wok:
			out = append(out, fmt.Sprintf("%s %s: not wanted, got "+verb, what, k, g))
		case w != g:
			out = append(out, fmt.Sprintf("%s %s: want "+verb+", got "+verb, what, k, w, g))
		}
	}
	return out
}
