// Package tracing exports OpenTelemetry traces by OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set: a span per HTTP request (named by
// the route pattern), per PostgreSQL statement and per Redis command.
// Unset, nothing here is installed, so tracing costs nothing.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Config says where spans go.
type Config struct {
	// URL is the full OTLP/HTTP traces URL (…/v1/traces).
	URL         string
	ServiceName string
	Version     string
}

// Tracing is an installed tracer provider. Its tracer is passed to each
// instrumented component explicitly; the global otel provider is never
// set, so two Apps in one process (tests) stay apart.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// New starts the exporter. Other OTEL_* variables the SDK reads itself
// from the process environment (OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_TRACES_SAMPLER, ...).
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(cfg.Version)))
	if err != nil {
		res = resource.Default()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, tracer: tp.Tracer("github.com/manacore/mana-core-auth"),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}, nil
}

// Shutdown flushes the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// HTTP wraps the router: one server span per request, continuing the
// caller's trace (traceparent), renamed to the route pattern once the mux
// matched (the request the mux sees is the one otelhttp made).
func (t *Tracing) HTTP(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "http", otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" && r.Pattern != "/" {
				return r.Pattern
			}
			return r.Method
		}))
}

// DB is a pgx tracer: a client span per statement and batch.
func (t *Tracing) DB() pgx.QueryTracer { return dbTracer{t.tracer} }

type dbTracer struct{ tracer trace.Tracer }

var (
	_ pgx.QueryTracer = dbTracer{}
	_ pgx.BatchTracer = dbTracer{}
)

func (d dbTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, _ = d.tracer.Start(ctx, "db "+operation(data.SQL), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", data.SQL)))
	return ctx
}

func (dbTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(trace.SpanFromContext(ctx), data.Err)
}

func (d dbTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	ctx, _ = d.tracer.Start(ctx, "db batch", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.Int("db.operation.batch.size", n)))
	return ctx
}

func (dbTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (dbTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(trace.SpanFromContext(ctx), data.Err)
}

// operation is a statement's first keyword (SELECT, UPDATE, ...): a span
// name that stays one of a few, whatever the statement.
func operation(sql string) string {
	f := strings.Fields(sql)
	for _, w := range f {
		if !strings.HasPrefix(w, "--") {
			return strings.ToUpper(w)
		}
	}
	return "query"
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Redis is a go-redis hook: a client span per command and pipeline.
func (t *Tracing) Redis() redis.Hook { return redisHook{t.tracer} }

type redisHook struct{ tracer trace.Tracer }

func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, span := h.tracer.Start(ctx, "redis "+cmd.Name(), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", "redis")))
		err := next(ctx, cmd)
		if err == redis.Nil {
			err = nil // a miss is an answer
		}
		end(span, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, span := h.tracer.Start(ctx, "redis pipeline", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", "redis"), attribute.Int("db.operation.batch.size", len(cmds))))
		err := next(ctx, cmds)
		if err == redis.Nil {
			err = nil
		}
		end(span, err)
		return err
	}
}
