"""evalplatform: rate LLM outputs against rubrics and measure how far raters agree."""

from evalplatform.celery import app as celery_app

__all__ = ("celery_app",)
