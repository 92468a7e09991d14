"""The Python side of the tq ↔ opentelemetry-instrumentation-celery check (see README.md).

Instrumented with the real CeleryInstrumentor and an in-memory span exporter; every finished span
is printed as one JSON line `{"span": {...}}` on stdout, for run.mjs to compare with tq's spans.
  python3 celery_otel.py worker   a Celery worker (solo pool) that runs otel.py_run
  python3 celery_otel.py send     sends otel.tq_run with apply_async under a root span and waits
                                  for its result (run by a tq worker)
Broker and result backend: TQ_OTEL_REDIS_URL; queue: TQ_OTEL_QUEUE.
"""
import json
import os
import sys

from celery import Celery, signals
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

url = os.environ['TQ_OTEL_REDIS_URL']
queue = os.environ['TQ_OTEL_QUEUE']

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
CeleryInstrumentor().instrument(tracer_provider=provider)

app = Celery('tq_otel', broker=url, backend=url)
app.conf.update(
    task_default_queue=queue,
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    worker_redirect_stdouts=False,  # the span lines stay on stdout for run.mjs
)


def print_finished_spans():
    for span in exporter.get_finished_spans():
        print(json.dumps({'span': {
            'name': span.name,
            'kind': span.kind.name,
            'trace_id': format(span.context.trace_id, '032x'),
            'span_id': format(span.context.span_id, '016x'),
            'parent_span_id': format(span.parent.span_id, '016x') if span.parent else None,
            'parent_is_remote': span.parent.is_remote if span.parent else None,
            'attributes': dict(span.attributes),
        }}), flush=True)
    exporter.clear()


@app.task(name='otel.py_run', bind=True)
def py_run(self, n):
    # What the task saw: the header the instrumentation extracted its parent from.
    return {'n': n * 2, 'traceparent': getattr(self.request, 'traceparent', None)}


@app.task(name='otel.tq_run')
def tq_run(n):
    raise RuntimeError('runs on the tq worker, not here')


# Connected after the instrumentor's own task_postrun handler, so the run span has ended.
@signals.task_postrun.connect(weak=False)
def after_run(**kwargs):
    print_finished_spans()


if __name__ == '__main__':
    if sys.argv[1] == 'worker':
        app.worker_main(['worker', '-P', 'solo', '-Q', queue, '-n', f'otel-{queue}@%h',
                         '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'INFO'])
    elif sys.argv[1] == 'send':
        with trace.get_tracer('tq-otel-check').start_as_current_span('python request'):
            result = tq_run.apply_async(args=[21])
        print(json.dumps({'sent': result.id}), flush=True)
        print(json.dumps({'result': result.get(timeout=20)}), flush=True)
        print_finished_spans()
