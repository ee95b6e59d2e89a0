package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

// moduleRoot is where the Dockerfiles' paths start and their build context.
const moduleRoot = "../.."

// TestDockerfilesGenerated fails when a committed Dockerfile is not what
// make generate writes from its definition.
func TestDockerfilesGenerated(t *testing.T) {
	for _, i := range All() {
		t.Run(i.Name, func(t *testing.T) {
			want, err := i.Dockerfile()
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(moduleRoot, i.DockerfilePath))
			if err != nil {
				t.Fatalf("%v: run make generate", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is not what make generate writes from internal/images: run make generate", i.DockerfilePath)
			}
		})
	}
}

// TestDockerfileBuildsOurImage runs each committed Dockerfile through a
// small interpreter of the instructions it uses, the way docker build
// would (its go build and go run commands run for real, for this
// machine's architecture), and compares the image that comes out with the
// one our builder makes from the same binary: every file with its owner
// and mode, user, entrypoint, env, ports and labels. A generator bug (a
// wrong path, port, flag or mode) fails here naming the difference.
func TestDockerfileBuildsOurImage(t *testing.T) {
	const version, revision = "v1.2.3", "0123456789abcdef"
	for _, i := range All() {
		t.Run(i.Name, func(t *testing.T) {
			df, err := os.ReadFile(filepath.Join(moduleRoot, i.DockerfilePath))
			if err != nil {
				t.Fatal(err)
			}
			b := &dockerBuild{t: t, work: t.TempDir(), args: map[string]string{
				"BUILDPLATFORM": "linux/" + runtime.GOARCH, "TARGETOS": "linux", "TARGETARCH": runtime.GOARCH,
				"VERSION": version, "REVISION": revision,
			}}
			got := b.run(parseDockerfile(t, string(df)))

			bin := b.stages["build"].files["/out/"+path.Base(i.Binary)]
			if bin.src == "" {
				t.Fatalf("the build stage compiles no /out/%s", path.Base(i.Binary))
			}
			if err := i.CheckBinary(bin.src, runtime.GOARCH); err != nil {
				t.Errorf("the Dockerfile's go build: %v", err)
			}
			// The check refuses the same binary as another image's or
			// another architecture's.
			for _, other := range All() {
				if err := other.CheckBinary(bin.src, runtime.GOARCH); other.Name != i.Name && (err == nil || !strings.Contains(err.Error(), "built from package "+i.MainPackage())) {
					t.Errorf("%s's CheckBinary of %s's binary = %v, want it refused as built from %s", other.Name, i.Name, err, i.MainPackage())
				}
			}
			if err := i.CheckBinary(bin.src, "s390x"); err == nil || !strings.Contains(err.Error(), `GOARCH="`+runtime.GOARCH+`", want "s390x"`) {
				t.Errorf("CheckBinary for s390x = %v, want the architecture refused", err)
			}
			if out, err := exec.Command(bin.src, "--version").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != version {
				t.Errorf("the Dockerfile's %s --version = %q, %v; want %s (VERSION stamped with -ldflags -X)", i.Binary, out, err, version)
			}
			img, err := ociimage.Build(i.Spec(bin.src, runtime.GOARCH, map[string]string{LabelVersion: version, LabelRevision: revision}, time.Unix(1767225600, 0)))
			if err != nil {
				t.Fatal(err)
			}
			want, err := Summarize(img)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range want.Diff(got) {
				t.Errorf("%s: %s", i.DockerfilePath, d)
			}
		})
	}
}

// instruction is one Dockerfile instruction, continuations joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func parseDockerfile(t *testing.T, s string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	for n, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == nil && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		cont := strings.HasSuffix(trimmed, "\\")
		trimmed = strings.TrimSpace(strings.TrimSuffix(trimmed, "\\"))
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &instruction{line: n + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + trimmed
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Fatalf("line %d: the last instruction ends in a continuation", cur.line)
	}
	return out
}

// fsEntry is a file of a stage: its summary, and for a regular file where
// its content is on this machine.
type fsEntry struct {
	File
	src string
}

type stage struct {
	files map[string]fsEntry
	env   []string
	ports []string
	user  string
	entry []string
	label map[string]string
}

// dockerBuild interprets the instructions our Dockerfiles use, with
// docker build's semantics for them: FROM (a base image stands for the Go
// toolchain on this machine, scratch for nothing), WORKDIR, COPY of the
// context (not modelled: the commands run in the module root) and COPY
// --from a stage (ownership and modes kept), ARG (values from the build
// arguments, else the default), RUN (only the commands below), LABEL,
// ENV, EXPOSE, USER, ENTRYPOINT in exec form.
type dockerBuild struct {
	t      *testing.T
	work   string
	args   map[string]string // build arguments
	stages map[string]*stage
	cur    *stage
	vars   map[string]string // ARGs in scope
}

func (b *dockerBuild) run(ins []instruction) Summary {
	b.stages = map[string]*stage{}
	var last *stage
	for _, in := range ins {
		if in.cmd != "FROM" && b.cur == nil {
			b.t.Fatalf("line %d: %s before FROM", in.line, in.cmd)
		}
		if err := b.do(in); err != nil {
			b.t.Fatalf("line %d: %s %s: %v", in.line, in.cmd, in.args, err)
		}
		last = b.cur
	}
	if last == nil {
		b.t.Fatal("no FROM")
	}
	s := Summary{
		Platform: "linux/" + b.args["TARGETARCH"], User: last.user, Entrypoint: last.entry,
		Env: last.env, Ports: slices.Sorted(slices.Values(last.ports)), Labels: last.label, Files: map[string]File{},
	}
	for p, e := range last.files {
		s.Files[p] = e.File
	}
	return s
}

func (b *dockerBuild) expand(s string) string {
	return os.Expand(s, func(k string) string { return b.vars[k] })
}

func (b *dockerBuild) do(in instruction) error {
	switch in.cmd {
	case "FROM":
		f := strings.Fields(in.args)
		if len(f) > 0 && strings.HasPrefix(f[0], "--platform=") {
			f = f[1:]
		}
		b.cur, b.vars = &stage{files: map[string]fsEntry{}, label: map[string]string{}}, map[string]string{}
		switch {
		case len(f) == 1 && f[0] == "scratch":
		case len(f) == 3 && strings.EqualFold(f[1], "AS") && f[0] == GoImage:
			b.stages[f[2]] = b.cur
		default:
			return errors.New("want FROM scratch or FROM " + GoImage + " AS name")
		}
	case "WORKDIR":
		if in.args != "/src" {
			return errors.New("the build stage works in /src, where the commands' paths are relative to")
		}
	case "ARG":
		k, def, _ := strings.Cut(in.args, "=")
		if v, ok := b.args[k]; ok {
			def = v
		}
		b.vars[k] = def
	case "COPY":
		return b.copy(strings.Fields(in.args))
	case "RUN":
		return b.runCommands(in.args)
	case "LABEL":
		words, err := shellWords(in.args)
		if err != nil {
			return err
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				return fmt.Errorf("label %q: want KEY=VALUE", w)
			}
			b.cur.label[k] = b.expand(v)
		}
	case "ENV":
		k, v, ok := strings.Cut(in.args, "=")
		if !ok || strings.ContainsAny(in.args, " \t\"'") {
			return errors.New("want one KEY=VALUE, unquoted")
		}
		b.cur.env = slices.DeleteFunc(b.cur.env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		b.cur.env = append(b.cur.env, k+"="+b.expand(v))
	case "EXPOSE":
		b.cur.ports = append(b.cur.ports, strings.Fields(in.args)...)
	case "USER":
		b.cur.user = in.args
	case "ENTRYPOINT":
		if err := json.Unmarshal([]byte(in.args), &b.cur.entry); err != nil {
			return fmt.Errorf("want the exec (JSON) form: %w", err)
		}
	default:
		return errors.New("instruction not understood by this test")
	}
	return nil
}

// copy handles COPY of the context (go.mod go.sum ./, . .: the commands
// run in the module root instead) and COPY --from=stage SRC DST.
func (b *dockerBuild) copy(f []string) error {
	if len(f) == 0 || !strings.HasPrefix(f[0], "--from=") {
		if slices.Equal(f, []string{".", "."}) || slices.Equal(f, []string{"go.mod", "go.sum", "./"}) {
			return nil
		}
		return errors.New("a COPY of the context other than the module's")
	}
	from, ok := b.stages[strings.TrimPrefix(f[0], "--from=")]
	if !ok || len(f) != 3 {
		return errors.New("want COPY --from=STAGE SRC DST of an earlier stage")
	}
	src, dst := f[1], f[2]
	if dir, ok := strings.CutSuffix(src, "/"); ok {
		// A directory's contents, each with its owner and mode.
		n := 0
		for p, e := range from.files {
			if rel, ok := strings.CutPrefix(p, dir+"/"); ok {
				b.cur.files[path.Join(dst, rel)] = e
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%s is empty in that stage", src)
		}
		return nil
	}
	e, ok := from.files[src]
	if !ok {
		return fmt.Errorf("no %s in that stage", src)
	}
	for d := path.Dir(dst); d != "/"; d = path.Dir(d) {
		if _, ok := b.cur.files[d]; !ok {
			b.cur.files[d] = fsEntry{File: File{Type: "d", Mode: 0o755}}
		}
	}
	b.cur.files[dst] = e
	return nil
}

// runCommands runs a RUN's commands, joined by &&: go mod download
// (nothing to do: the module is here), go build, go run
// ./cmd/build-image, mkdir and tar -xpf.
func (b *dockerBuild) runCommands(s string) error {
	for c := range strings.SplitSeq(s, "&&") {
		words, err := shellWords(c)
		if err != nil {
			return err
		}
		var env []string
		for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
			env = append(env, b.expand(words[0]))
			words = words[1:]
		}
		for i := range words {
			words[i] = b.expand(words[i])
		}
		if err := b.command(env, words); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(words, " "), err)
		}
	}
	return nil
}

func (b *dockerBuild) command(env, words []string) error {
	switch {
	case slices.Equal(words, []string{"go", "mod", "download"}):
		return nil
	case len(words) > 2 && words[0] == "go" && (words[1] == "build" || words[1] == "run"):
		// The output goes to the work folder; the stage records where.
		out := slices.Index(words, "-o")
		if out < 0 || out+1 >= len(words) {
			return errors.New("no -o")
		}
		stagePath := words[out+1]
		local := filepath.Join(b.work, strings.ReplaceAll(strings.TrimPrefix(stagePath, "/"), "/", "_"))
		words[out+1] = local
		cmd := exec.Command(words[0], words[1:]...)
		cmd.Dir = moduleRoot
		// A build stage's environment: the Dockerfile's variables only,
		// no GOFLAGS of the caller.
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool {
			return strings.HasPrefix(e, "GOFLAGS=") || strings.HasPrefix(e, "CGO_ENABLED=") || strings.HasPrefix(e, "GOOS=") || strings.HasPrefix(e, "GOARCH=")
		}), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		data, err := os.ReadFile(local)
		if err != nil {
			return err
		}
		// Written by the stage's root with umask 022.
		file, err := FileOf(&tar.Header{Typeflag: tar.TypeReg, Mode: 0o755}, data)
		if err != nil {
			return err
		}
		b.cur.files[stagePath] = fsEntry{File: file, src: local}
		return nil
	case len(words) == 2 && words[0] == "mkdir":
		b.cur.files[words[1]] = fsEntry{File: File{Type: "d", Mode: 0o755}}
		return nil
	case len(words) == 5 && words[0] == "tar" && words[1] == "-xpf" && words[3] == "-C":
		return b.extract(words[2], words[4])
	default:
		return errors.New("command not understood by this test")
	}
}

// extract is tar -xpf as root: entries keep their owners and modes.
func (b *dockerBuild) extract(archive, dir string) error {
	e, ok := b.cur.files[archive]
	if !ok {
		return fmt.Errorf("no %s in the stage", archive)
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		file, err := FileOf(h, data)
		if err != nil {
			return err
		}
		b.cur.files[path.Join(dir, h.Name)] = fsEntry{File: file}
	}
}

// shellWords splits s into words as sh does for our Dockerfiles: spaces
// separate, double quotes group.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}
