package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry (go.opentelemetry.io/otel, sdk and the two OTLP trace
// exporters) is the dependency here: it is the tracing API and wire format
// every collector and tracing backend speaks, so the gateway's spans join
// the traces of clients and workers instead of being a format of our own.

// Exporters of TracingConfig.Exporter.
const (
	ExporterOTLPHTTP = "otlp-http"
	ExporterOTLPGRPC = "otlp-grpc"
)

// TracingConfig is the tracing: block: OpenTelemetry spans of upgrades,
// routed client messages, NATS requests and HTTP integration calls, sent
// over OTLP. The zero value is off.
type TracingConfig struct {
	// Enabled turns tracing on. Default false: no span is made and the
	// message path costs nothing more.
	Enabled bool `yaml:"enabled"`
	// Exporter is how spans leave: "otlp-http" (default, OTLP over HTTP
	// with protobuf) or "otlp-grpc".
	Exporter string `yaml:"exporter"`
	// Endpoint is the collector's URL, as OTEL_EXPORTER_OTLP_ENDPOINT:
	// http://host:4318 for otlp-http (/v1/traces is appended unless the
	// URL has a path of its own), http://host:4317 for otlp-grpc; http://
	// means no TLS. Default "": the standard OTEL_EXPORTER_OTLP_* and
	// OTEL_EXPORTER_OTLP_TRACES_* environment variables, else the
	// exporter's default (localhost:4318 or localhost:4317). A value here
	// beats the environment.
	Endpoint string `yaml:"endpoint"`
	// Ratio is the share of new traces sampled, more than 0 and at most 1;
	// a trace the client started keeps its own sampled flag (parent-based
	// sampling). Default 1: every trace (OpenTelemetry's
	// parentbased_always_on). Nil: the default; 0 is refused.
	Ratio *float64 `yaml:"ratio"`
	// ServiceName is the service.name of the spans. Default "wsgate" (or
	// OTEL_SERVICE_NAME when set).
	ServiceName string `yaml:"service_name"`
	// Deliveries adds one span per NATS message the gateway fans out to
	// its connections, when the message carries a trace context
	// (sampled as its trace is). Default false: fan-out is never traced.
	Deliveries bool `yaml:"deliveries"`
}

// Validate reports every wrong key of the tracing: block, each error naming
// it (tracing.ratio: ...).
func (c TracingConfig) Validate() []error {
	var errs []error
	switch c.Exporter {
	case "", ExporterOTLPHTTP, ExporterOTLPGRPC:
	default:
		errs = append(errs, fmt.Errorf("tracing.exporter: %q is not %s or %s", c.Exporter, ExporterOTLPHTTP, ExporterOTLPGRPC))
	}
	if c.Endpoint != "" {
		if err := validEndpoint(c.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("tracing.endpoint: %w", err))
		}
	}
	// NaN fails both comparisons, so it is refused too.
	if r := c.Ratio; r != nil && !(*r > 0 && *r <= 1) {
		errs = append(errs, fmt.Errorf("tracing.ratio: %v is not more than 0 and at most 1", *r))
	}
	if strings.ContainsFunc(c.ServiceName, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		errs = append(errs, fmt.Errorf("tracing.service_name: %q has control characters", c.ServiceName))
	}
	return errs
}

// validEndpoint checks a collector URL: http or https, with a host.
func validEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		return fmt.Errorf("%q is not a URL (write http://host:port)", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme %q is not http or https", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

func (c TracingConfig) withDefaults() TracingConfig {
	if c.Exporter == "" {
		c.Exporter = ExporterOTLPHTTP
	}
	if c.Ratio == nil {
		one := 1.0
		c.Ratio = &one
	}
	return c
}

// instrumentation is the name of the gateway's tracer.
const instrumentation = "github.com/wsgate/wsgate/bridge"

// tracer is a gateway's tracing, nil when it is off: every span the
// gateway makes is behind one nil check.
type tracer struct {
	provider   *sdktrace.TracerProvider
	t          trace.Tracer
	ratio      float64 // of new traces sampled (sampleRoot)
	deliveries bool
}

// sampleRoot decides whether a new trace, one no client started, is
// sampled. It is decided before any span is made, so that a trace left
// out costs a random number and nothing else: no span, no trace context
// in the message's headers (its workers decide for themselves). The
// provider's sampler then samples every root it is given.
func (t *tracer) sampleRoot() bool { return t.ratio >= 1 || rand.Float64() < t.ratio }

// newTracer starts the exporter and tracer provider of c (nil when c is
// off). Exporters connect lazily: a collector that is down costs dropped
// spans and a logged error, never a refused start.
func newTracer(c TracingConfig, gatewayID string, log *slog.Logger) (*tracer, error) {
	if !c.Enabled {
		return nil, nil
	}
	// The SDK reports what it could not export through its global error
	// handler, which writes with the standard log package by default: into
	// the gateway's log instead, once per failed batch (every 5 s at most
	// while a collector is down).
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: spans not exported", "component", "tracing", "err", err)
	}))
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c = c.withDefaults()
	exp, err := newExporter(c)
	if err != nil {
		return nil, fmt.Errorf("tracing.exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.instance.id", gatewayID)}
	name := c.ServiceName
	if name == "" && os.Getenv("OTEL_SERVICE_NAME") == "" {
		name = "wsgate"
	}
	if name != "" {
		attrs = append(attrs, attribute.String("service.name", name))
	}
	// Later detectors win: the environment (OTEL_RESOURCE_ATTRIBUTES,
	// OTEL_SERVICE_NAME) over the SDK's, the config over the environment.
	res, err := resource.New(context.Background(), resource.WithTelemetrySDK(), resource.WithFromEnv(), resource.WithAttributes(attrs...))
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		// Parent-based: a client's trace keeps its sampled flag; new
		// traces were sampled by sampleRoot already.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	)
	return &tracer{provider: tp, t: tp.Tracer(instrumentation), ratio: *c.Ratio, deliveries: c.Deliveries}, nil
}

// newExporter makes c's OTLP exporter. The exporters read the standard
// environment variables themselves; an endpoint in c overrides them.
func newExporter(c TracingConfig) (sdktrace.SpanExporter, error) {
	ctx := context.Background()
	if c.Exporter == ExporterOTLPGRPC {
		var opts []otlptracegrpc.Option
		if c.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		u, _ := url.Parse(c.Endpoint) // Validate parsed it
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces" // as OTEL_EXPORTER_OTLP_ENDPOINT is read
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	return otlptracehttp.New(ctx, opts...)
}

// shutdown flushes the spans not yet sent and stops the exporter, within
// ctx.
func (t *tracer) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}
