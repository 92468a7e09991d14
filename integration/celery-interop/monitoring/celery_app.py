"""The Python Celery peer of the monitoring interop tests (events, remote control).

Broker and result backend come from TQ_MON_BROKER and TQ_MON_BACKEND; both sides name tasks
"mon.*" so either side can run the other's calls.
"""
import os
import time

from celery import Celery

app = Celery('tq_monitoring', broker=os.environ['TQ_MON_BROKER'], backend=os.environ.get('TQ_MON_BACKEND'))
app.conf.update(
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name='mon.add')
def add(a, b):
    return a + b


@app.task(name='mon.sleep')
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name='mon.fail')
def fail(message):
    raise ValueError(message)


@app.task(name='mon.block')
def block(seconds):
    time.sleep(seconds)
    return 'finished'
