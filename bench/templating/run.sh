#!/usr/bin/env bash
# Side by side: our function's RunFunction (BenchmarkRunFunction in the
# repository root) and function-go-templating's (its released package, with
# overlay/benchmark_test.go added), on the same requests, in process.
# Builds both test binaries once, then runs them alternately COUNT (5) times
# for BENCHTIME (1s) each, so load on the machine falls on both alike, and
# prints the medians over the runs and our p50 as a fraction of theirs.
# BASE=<git revision> adds our function as of that revision ("base"), to
# show what a change did.
#
# function-go-templating is a main package, which Go cannot import, so its
# module is copied from the module cache (downloaded by the ordinary client
# and checked against go.sum here) into OUT and our benchmark file added to
# the copy; nothing of it is kept in the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-1s}
OUT=${OUT:-$root/_output/bench-function}
mod=github.com/crossplane-contrib/function-go-templating

rm -rf "$OUT" && mkdir -p "$OUT/modfile"
cd "$here"
dir=$(go mod download -json "$mod" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -d "$dir" ]] || { echo "bench-function: cannot download $mod" >&2; exit 1; }
cp -r "$dir" "$OUT/function-go-templating" && chmod -R u+w "$OUT/function-go-templating"
cp overlay/benchmark_test.go "$OUT/function-go-templating/zz_auth0_eventstream_benchmark_test.go"
cp go.mod "$OUT/modfile/go.mod"
# Their test dependencies' sums, beside ours.
cat go.sum "$dir/go.sum" | sort -u > "$OUT/modfile/go.sum"
go mod edit -modfile="$OUT/modfile/go.mod" -replace "$mod=$OUT/function-go-templating"
go test -c -modfile="$OUT/modfile/go.mod" -tags gotemplating -o "$OUT/theirs.test" "$mod"
(cd "$root" && go test -c -o "$OUT/ours.test" .)
who="ours theirs"
if [[ -n "${BASE:-}" ]]; then
	mkdir -p "$OUT/base-src"
	git -C "$root" archive "$BASE" | tar -x -C "$OUT/base-src"
	(cd "$OUT/base-src" && go test -c -o "$OUT/base.test" .)
	who="base ours theirs"
fi

export AUTH0_EVENTSTREAM_ROOT=$root
for i in $(seq "$COUNT"); do
	for w in $who; do
		(cd "$root" && "$OUT/$w.test" -test.run '^$' -test.bench '^BenchmarkRunFunction$' -test.benchtime "$BENCHTIME") |
			awk -v who="$w" '/^BenchmarkRunFunction\//{print who, $0}' | tee -a "$OUT/results.txt"
	done
done

echo "bench-function: medians of $COUNT runs; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
awk -v who="$who" '
function median(k,   n, i, j, t, a) {
	n = split(vals[k], a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function m(w, s, metric) { return median(w SUBSEP s SUBSEP metric) }
{
	sub(/^BenchmarkRunFunction\//, "", $2); sub(/-[0-9]+$/, "", $2)
	s = $2; scen[s] = 1
	for (i = 4; i < NF; i += 2) vals[$1 SUBSEP s SUBSEP $(i+1)] = vals[$1 SUBSEP s SUBSEP $(i+1)] " " $i
}
END {
	nw = split(who, ws, " ")
	printf "%-13s %-7s %12s %12s %10s %10s\n", "scenario", "", "p50 ns", "mean ns/op", "B/op", "allocs/op"
	for (s in scen) {
		for (i = 1; i <= nw; i++)
			printf "%-13s %-7s %12d %12d %10d %10d\n", s, ws[i], m(ws[i], s, "p50-ns"), m(ws[i], s, "ns/op"), m(ws[i], s, "B/op"), m(ws[i], s, "allocs/op")
		for (i = 1; i <= nw; i++) {
			if (ws[i] == "theirs") continue
			printf "%-13s %s/theirs: p50 %.3fx, mean %.3fx, B/op %.3fx, allocs %.3fx\n", s, ws[i],
				m(ws[i], s, "p50-ns") / m("theirs", s, "p50-ns"), m(ws[i], s, "ns/op") / m("theirs", s, "ns/op"),
				m(ws[i], s, "B/op") / m("theirs", s, "B/op"), m(ws[i], s, "allocs/op") / m("theirs", s, "allocs/op")
		}
	}
}' "$OUT/results.txt"
