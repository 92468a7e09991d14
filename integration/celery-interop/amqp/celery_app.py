"""The Python Celery peer of the AMQP interop tests (Celery 5.2 / kombu / py-amqp from Debian).

Configured from the environment by the tests:
  TQ_INTEROP_AMQP_URL  broker URL (default: the local RabbitMQ's tq_test vhost)
  TQ_INTEROP_BACKEND   result backend (default rpc://, Celery's reply-queue backend)
  TQ_INTEROP_MAX_PRIORITY  task_queue_max_priority (x-max-priority on the queues), unset = none
"""
import os
import time

from celery import Celery

app = Celery(
    'tq_interop',
    broker=os.environ.get('TQ_INTEROP_AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/tq_test'),
    backend=os.environ.get('TQ_INTEROP_BACKEND', 'rpc://'),
)
app.conf.update(
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
    worker_prefetch_multiplier=1,
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
if os.environ.get('TQ_INTEROP_MAX_PRIORITY'):
    app.conf.task_queue_max_priority = int(os.environ['TQ_INTEROP_MAX_PRIORITY'])


@app.task(name='py.add')
def add(a, b, z=0):
    return a + b + z


@app.task(name='py.fail')
def fail(message):
    raise ValueError(message)


@app.task(name='py.retry_once', bind=True, max_retries=3)
def retry_once(self):
    if self.request.retries < 1:
        raise self.retry(countdown=1)
    return self.request.retries


@app.task(name='py.now', bind=True)
def now(self):
    return {'time': time.time(), 'eta': self.request.eta}


@app.task(name='py.where', bind=True)
def where(self):
    return {'routing_key': self.request.delivery_info.get('routing_key'), 'hostname': self.request.hostname}
