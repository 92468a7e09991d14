"""The Python Celery peer of the Redis interop tests.

Broker and result backend come from TQ_INTEROP_REDIS_URL (the broker from TQ_INTEROP_BROKER_URL when set); the queues from TQ_INTEROP_QUEUE
and TQ_INTEROP_CUSTOM_QUEUE, unique per test run so parallel runs never share a queue;
TQ_INTEROP_PREFIX, when set, is kombu's global_keyprefix.
Tasks are named as the tq side names them ("tq.*"), so either side can run either's calls.
"""
import os

from celery import Celery

url = os.environ.get('TQ_INTEROP_REDIS_URL', 'redis://127.0.0.1:6379/15')
queue = os.environ.get('TQ_INTEROP_QUEUE', 'celery')

# TQ_INTEROP_BROKER_URL: another broker (RabbitMQ) with this Redis as the result backend.
app = Celery('tq_interop', broker=os.environ.get('TQ_INTEROP_BROKER_URL') or url, backend=url)
app.conf.update(
    task_default_queue=queue,
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
    result_expires=3600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    # kombu's global_keyprefix, when a test isolates its keys (tq reads it from the URL).
    broker_transport_options={'global_keyprefix': os.environ['TQ_INTEROP_PREFIX']} if os.environ.get('TQ_INTEROP_PREFIX') else {},
)


@app.task(name='tq.add')
def add(a, b, z=0):
    return a + b + z


@app.task(name='tq.fail')
def fail(message):
    raise ValueError(message)


@app.task(name='tq.flaky', bind=True, max_retries=3)
def flaky(self, succeed_after):
    if self.request.retries < succeed_after:
        raise self.retry(countdown=0.2)
    return self.request.retries


@app.task(name='tq.where', bind=True)
def where(self):
    """The routing key that delivered this task: shows custom-queue routing end to end."""
    return self.request.delivery_info.get('routing_key')


@app.task(name='tq.count')
def count(key):
    """Counts its runs in Redis, where the tq side counts too: a double run shows as 2."""
    import redis
    redis.Redis.from_url(url).incr(key)


# Canvas interop (canvas-interop.test.ts): the same names on both sides.
@app.task(name='tq.mul')
def mul(a, b):
    return a * b


@app.task(name='tq.xsum')
def xsum(values):
    return sum(values)


@app.task(name='tq.listed')
def listed(values):
    """A chord body that shows the order of the header results."""
    return values


@app.task(name='tq.double')
def double(x):
    return x * 2


@app.task(name='tq.noted')
def noted(task_id):
    """An errback taking one argument: Celery sends it as a task with the failed task's id."""
    return task_id
