// What a Node.js service instrumented with the OpenTelemetry JS SDK sends, pointed at `interplay serve`
// (tests/test_js_sdk.py): frontend-js over OTLP/HTTP JSON (the JS exporters' default), payments-js over
// OTLP/HTTP protobuf, shipping-js through the Zipkin exporter to /api/v2/spans, a log record with an event
// name, and an exponential histogram. Prints what it sent (ids, the SDK's own aggregation) as JSON.
//
// usage: node send.mjs http://127.0.0.1:PORT
import { context, trace, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { AggregationType, MeterProvider, MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';

const base = process.argv[2];
export const LATENCIES = [0.0, 0.7, 1.5, 3.2, 3.3, 9.0, 40.0, 41.0, 250.0, 1200.0];

const resource = (name) => resourceFromAttributes({ 'service.name': name, 'service.version': '5.0.0' });
const provider = (name, exporter) => new BasicTracerProvider({
  resource: resource(name), spanProcessors: [new SimpleSpanProcessor(exporter)] });
const providers = {
  frontend: provider('frontend-js', new JsonTraceExporter({ url: `${base}/v1/traces` })),
  payments: provider('payments-js', new ProtoTraceExporter({ url: `${base}/v1/traces` })),
  shipping: provider('shipping-js', new ZipkinExporter({ url: `${base}/api/v2/spans`, serviceName: 'shipping-js' })),
};
const loggers = new LoggerProvider({ resource: resource('frontend-js'),
  processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })] });

class Local extends MetricReader {  // what the SDK aggregated, to compare with what comes back
  async onForceFlush() {}
  async onShutdown() {}
}
const local = new Local();
const meters = new MeterProvider({
  resource: resource('frontend-js'),
  readers: [local, new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 3_600_000 })],
  views: [{ instrumentName: 'checkout.latency',
            aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 20 } } }],
});

const within = (span) => trace.setSpan(context.active(), span);
const upstream = trace.wrapSpanContext({
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', isRemote: true,
  traceFlags: TraceFlags.SAMPLED, traceState: new TraceState('vendor=abc') });
const frontend = providers.frontend.getTracer('shop.http', '3.1.0');
const payments = providers.payments.getTracer('shop.payments', '1.0.0');
const root = frontend.startSpan('GET /checkout', {
  kind: SpanKind.SERVER,
  links: [{ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331',
                       traceFlags: TraceFlags.SAMPLED }, attributes: { 'link.reason': 'batch' } }],
}, trace.setSpan(context.active(), upstream));
root.addEvent('cart.loaded', { items: 3 });
const client = frontend.startSpan('POST /charge', { kind: SpanKind.CLIENT,
  attributes: { 'server.address': 'payments-js' } }, within(root));
const server = payments.startSpan('POST /charge', { kind: SpanKind.SERVER }, within(client));
payments.startSpan('INSERT charges', { kind: SpanKind.CLIENT,
  attributes: { 'db.system': 'postgresql' } }, within(server)).end();
server.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
server.end();
client.setStatus({ code: SpanStatusCode.ERROR });
client.end();

const histogram = meters.getMeter('shop.metrics', '0.3.0').createHistogram('checkout.latency',
  { unit: 'ms', description: 'time to check out' });
for (const v of LATENCIES) histogram.record(v, { route: '/checkout' });
loggers.getLogger('shop.audit', '2.0.1').emit({
  body: 'order placed', eventName: 'checkout.order_placed', severityText: 'INFO', severityNumber: 9,
  attributes: { 'order.id': 'o-1' }, context: within(root) });
root.setStatus({ code: SpanStatusCode.ERROR });
root.end();

const shipping = providers.shipping.getTracer('shop.shipping', '0.1.0');
const ship = shipping.startSpan('POST /ship', { kind: SpanKind.SERVER });
shipping.startSpan('label.render', { kind: SpanKind.INTERNAL }, within(ship)).end();
ship.setStatus({ code: SpanStatusCode.ERROR, message: 'carrier down' });
ship.end();

const { resourceMetrics } = await local.collect();
const point = resourceMetrics.scopeMetrics[0].metrics[0].dataPoints[0].value;
for (const p of [...Object.values(providers), loggers, meters]) await p.shutdown();
console.log(JSON.stringify({
  trace_id: root.spanContext().traceId, span_id: root.spanContext().spanId,
  zipkin_trace_id: ship.spanContext().traceId, point,
}));
