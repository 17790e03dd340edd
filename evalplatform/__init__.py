"""evalplatform: rate LLM outputs against rubrics and measure how far raters agree.

Deliberately empty.  The Celery app lives in ``evalplatform.celery_app`` (``celery -A
evalplatform.celery_app worker``) and is loaded by ``evalplatform.dispatch`` when a task is first
sent, so importing a module of the package, say the statistics engine ``evalplatform.stats``, loads
neither Celery nor Django settings.
"""
