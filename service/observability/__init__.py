"""Health, readiness and Prometheus metrics: how operators see the service from outside.

Metric labels carry only route templates, fixed enums and stable codes, never an IIN, a
pseudonym, a subject or a request id (SPEC §12): every label value passes through a closed
set here before it reaches a metric.
"""
