# syntax=docker/dockerfile:1.12
# Runtime images of the composition function and the provider: static Go
# binaries on distroless, running as the nonroot user. Build one with
#   docker build --target function -t function-auth0-eventstream .
#   docker build --target provider -t provider-auth0-eventstream .
# and embed it in the package with
#   crossplane xpkg build --package-root=package/function --embed-runtime-image=function-auth0-eventstream

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux TARGETARCH=amd64
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/function . && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/provider ./cmd/provider

FROM gcr.io/distroless/static-debian12:nonroot AS function
COPY --from=build /out/function /function
# gRPC for Crossplane (mTLS, certificates from TLS_SERVER_CERTS_DIR) and metrics.
EXPOSE 9443 8080
USER 65532:65532
ENTRYPOINT ["/function"]

FROM gcr.io/distroless/static-debian12:nonroot AS provider
COPY --from=build /out/provider /provider
USER 65532:65532
ENTRYPOINT ["/provider"]
