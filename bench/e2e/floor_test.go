package main

import "testing"

func TestParseWrites(t *testing.T) {
	m := []byte(`# HELP apiserver_request_total x
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="auth0.openmcf.org",resource="auth0eventstreams",scope="resource",subresource="status",verb="PUT",version="v1"} 5
apiserver_request_total{code="409",component="apiserver",dry_run="",group="auth0.openmcf.org",resource="auth0eventstreams",scope="resource",subresource="status",verb="PUT",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 9
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="APPLY",version="v1"} 1
etcd_requests_total{group="auth0.openmcf.org",operation="update",resource="auth0eventstreams"} 4
etcd_requests_total{group="auth0.openmcf.org",operation="get",resource="auth0eventstreams"} 8
etcd_requests_total{group="coordination.k8s.io",operation="update",resource="leases"} 7
`)
	all := parseWrites(m)
	if all.stored.total() != 4 || all.stored["auth0eventstreams update"] != 4 {
		t.Errorf("parseWrites stored: got %v, want auth0eventstreams update 4", all.stored)
	}
	got := all.requests
	want := writeCounts{"secrets POST": 3, "auth0eventstreams/status PUT": 7, "events APPLY": 1}
	if len(got) != len(want) {
		t.Fatalf("parseWrites: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseWrites[%q] = %v, want %v", k, got[k], v)
		}
	}
	if e := got.events(); e != 1 {
		t.Errorf("events: got %v, want 1", e)
	}
	if d := got.minus(writeCounts{"secrets POST": 1}); d.total() != 10 {
		t.Errorf("minus: total %v, want 10", d.total())
	}
}
