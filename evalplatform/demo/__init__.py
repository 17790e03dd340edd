"""The demo (``make run``, ``manage.py load_demo``): an app above all the others.

It builds its projects through every app's services (rubric import, item import, the queue, ratings
import), so nothing below it may import it; ``loader.py`` holds the support-ticket demo,
``head_to_head.py`` the pairwise one.
"""
