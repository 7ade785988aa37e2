"""The service: the job body (:mod:`monitor.service.runner`: ``run_monitor``
takes a snapshot, compares it with its baseline, writes the report and queues
the alerts), the scheduler that decides *when* (:mod:`monitor.service.scheduler`,
APScheduler 3.x), the daemon around it (:mod:`monitor.service.daemon`: signals,
reload, the stop with a deadline; :mod:`monitor.service.http`: ``/healthz``,
``/metrics`` and the reports with their JSON API, :mod:`monitor.service.site`,
also served alone by ``drift-monitor serve``; :mod:`monitor.service.metrics`;
:mod:`monitor.service.logs`) and webhook delivery through the alert outbox
(:mod:`monitor.service.alert`).

The service computes no statistics and writes no SQL: it calls the profile and
drift engines, the store and the report renderer.
"""
