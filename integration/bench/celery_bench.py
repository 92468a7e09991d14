"""What the Celery 5.2 bench scripts share: the Redis databases (as lib/endpoints.mjs), the
bench's task arguments (~300 bytes of JSON, as lib/payload.mjs) and the fill before a drain."""
import os

import redis

BROKER = os.environ.get('TQ_BENCH_REDIS_URL', 'redis://127.0.0.1:6379/12')
BACKEND = os.environ.get('TQ_BENCH_REDIS_RESULT_URL', 'redis://127.0.0.1:6379/13')
FILLER = ('lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor '
          'incididunt ut labore et dolore magna aliqua. ' * 3)[:290]


def flush_and_fill(app, queue, tasks):
    """Empties both databases, then sends `tasks` calls of 'bench.noop' (args [i, i + 1, text]) to `queue`."""
    redis.Redis.from_url(BROKER).flushdb()
    redis.Redis.from_url(BACKEND).flushdb()
    with app.producer_or_acquire() as producer:
        for i in range(tasks):
            app.send_task('bench.noop', (i, i + 1, FILLER), queue=queue, producer=producer)
