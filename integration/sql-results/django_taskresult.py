"""Reads tq's result rows with django-celery-results' own TaskResult model (Debian's Django
3.2 + django-celery-results 2.4 + psycopg2), and writes one row the way that app does.

Usage: django_taskresult.py <schema> <read-task-id> <write-task-id>
Environment: PGHOST, PGPORT, PGUSER, PGDATABASE. Prints one JSON object.
"""
import json
import os
import sys

import django
from django.conf import settings

schema, read_id, write_id = sys.argv[1:4]
settings.configure(
    INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.auth', 'django.contrib.admin', 'django_celery_results'],
    DATABASES={'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'HOST': os.environ.get('PGHOST', '127.0.0.1'),
        'PORT': os.environ.get('PGPORT', '5432'),
        'USER': os.environ.get('PGUSER', 'postgres'),
        'NAME': os.environ.get('PGDATABASE', 'test'),
        'OPTIONS': {'options': f'-c search_path={schema}'},
    }},
    USE_TZ=True,
    SECRET_KEY='tq-integration-check',
    DEFAULT_AUTO_FIELD='django.db.models.AutoField',
)
django.setup()

from django.contrib import admin  # noqa: E402
from django_celery_results.admin import TaskResultAdmin  # noqa: E402
from django_celery_results.models import TaskResult  # noqa: E402

row = TaskResult.objects.get(task_id=read_id)
# What the admin's change list shows: its list_display columns, read through the admin class.
model_admin = TaskResultAdmin(TaskResult, admin.site)
listed = {}
for name in model_admin.list_display:
    value = getattr(row, name)
    listed[name] = value.isoformat() if hasattr(value, 'isoformat') else value
TaskResult.objects.store_result(
    'application/json', 'utf-8', write_id, json.dumps({'written': 'by django'}), 'SUCCESS',
    traceback=None, meta=json.dumps({'children': []}), task_name='django.side', task_args='[1]', task_kwargs='{}', worker='celery@django',
)
print(json.dumps({
    'status': row.status,
    'task_name': row.task_name,
    'task_args': row.task_args,
    'task_kwargs': row.task_kwargs,
    'worker': row.worker,
    'result': row.result,
    'content_type': row.content_type,
    'date_done': row.date_done.isoformat(),
    'meta': row.meta,
    'listed': listed,
    'count_success': TaskResult.objects.filter(status='SUCCESS').count(),
}))
