"""One settings module, read from the environment (twelve-factor).

The defaults give the embedded mode that ``make run`` uses: a SQLite file under ``var/`` and Celery
tasks run in-process.  Setting ``DATABASE_URL`` and ``REDIS_URL`` switches to PostgreSQL, a Redis
broker and real workers with no code change.  With ``DEBUG=0`` the process refuses to start without
``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EVAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


DEBUG = env_bool("DEBUG", True)


def _development_secret_key() -> str:
    """A random key kept in var/ so development sessions survive a restart; never used with DEBUG=0."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DEBUG=0 needs SECRET_KEY: refusing to start with a generated key")
    SECRET_KEY = _development_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DEBUG=0 needs ALLOWED_HOSTS (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "evalplatform.accounts",
    "rubrics",
    "evalplatform.projects",
    "evalplatform.assignments",
    "evalplatform.ratings",
    "evalplatform.reports",
    "evalplatform.comparisons",
    "evalplatform.quality",
    "evalplatform.llm",
    "evalplatform.suites",
    "evalplatform.training",
    "evalplatform.enrolment",
    "evalplatform.demo",  # above every other app: it builds its projects through their services
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the body (the CSRF check parses POSTed forms, files included).
    "evalplatform.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # An external worker's session (no password; entered by a study link) reaches its project only.
    "evalplatform.enrolment.middleware.WorkerScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "evalplatform.middleware.DatabaseUnavailableMiddleware",
    "evalplatform.middleware.OutOfRangeIdMiddleware",
]

ROOT_URLCONF = "evalplatform.urls"
WSGI_APPLICATION = "evalplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Server-side parameters let psycopg prepare a statement after it has run a few times on a
        # connection: the queue's queries skip parsing and planning (next and submit ~10% faster).
        # Set DATABASE_PREPARED_STATEMENTS=0 behind a pooler in transaction mode that cannot keep them.
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, WAL lets readers run beside a writer and
    # the busy timeout makes a second writer wait instead of failing with "database is locked".
    # Keep connections between requests, as on PostgreSQL: opening one runs the PRAGMAs below.
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- E-mail (invitations) ----------------------------------------------------------------------
# The embedded default prints messages on the console; set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend
# and EMAIL_HOST etc. to send them.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 10))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "evalplatform <noreply@localhost>")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Uploads: an items file of a few hundred MB is streamed to disk, never held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 50 * 1024 * 1024))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
EVAL_MAX_UPLOAD_BYTES = int(os.environ.get("EVAL_MAX_UPLOAD_BYTES", 200 * 1024 * 1024))

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Redis hands an unacknowledged message to another worker once it is this old (acks_late): every task
# must be stopped before then, or a report still running would be started a second time beside it.
EVAL_BROKER_VISIBILITY_TIMEOUT = int(os.environ.get("EVAL_BROKER_VISIBILITY_TIMEOUT", 3600))
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": EVAL_BROKER_VISIBILITY_TIMEOUT}
# The soft limit raises SoftTimeLimitExceeded inside the task, so the report service marks the report
# failed with the reason; the hard limit kills the pool process if a task does not stop.  Both stay
# below the visibility timeout, so a runaway report is stopped and failed, never redelivered while running.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("EVAL_TASK_TIME_LIMIT", EVAL_BROKER_VISIBILITY_TIMEOUT - 300))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("EVAL_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT - 60))
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < EVAL_BROKER_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        f"task time limits must satisfy 0 < soft ({CELERY_TASK_SOFT_TIME_LIMIT} s) < hard ({CELERY_TASK_TIME_LIMIT} s) "
        f"< the broker's visibility timeout ({EVAL_BROKER_VISIBILITY_TIMEOUT} s): EVAL_TASK_SOFT_TIME_LIMIT, "
        "EVAL_TASK_TIME_LIMIT, EVAL_BROKER_VISIBILITY_TIMEOUT"
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "evalplatform")
CELERY_BEAT_SCHEDULE = {
    # Claims expire leases lazily too; this returns lapsed leases of idle projects to the queue.
    "expire-leases": {"task": "evalplatform.assignments.tasks.expire_leases", "schedule": 60.0},
    # Re-enqueues report refreshes whose message was lost while the broker was down.
    "sweep-report-refreshes": {"task": "evalplatform.reports.tasks.sweep_report_refreshes", "schedule": 60.0},
}
# What a Celery worker runs as it starts, before its pool forks (``celery_app.preload``): loading the
# report's statistics once, so no report pays for the imports.
EVAL_WORKER_PRELOAD = ["evalplatform.reports.compute.load_statistics"]
# "celery" (a broker and workers), "thread" (in-process, after the countdown) or "sync"; empty = by REDIS_URL.
EVAL_TASK_RUNNER = os.environ.get("EVAL_TASK_RUNNER", "")
# How long submissions gather before the report refresh they trigger runs (the debounce window).
EVAL_REPORT_REFRESH_DELAY = float(os.environ.get("EVAL_REPORT_REFRESH_DELAY", 10))
# A refresh scheduled this long ago that never started is taken as lost (its message could not reach
# the broker) and the periodic sweep enqueues it again.
EVAL_LOST_REFRESH_AFTER = float(os.environ.get("EVAL_LOST_REFRESH_AFTER", 120))

# Responses per scoring task when a worker scores a project's responses against their references
# (``projects.references.fan_out_scoring``): each batch is its own task, so every worker takes a share.
EVAL_REFERENCE_TASK_BATCH = int(os.environ.get("EVAL_REFERENCE_TASK_BATCH", 2000))

# Model runs (evalplatform.llm): the longest pause between retries of a call, the slack a call's lease
# keeps beyond its endpoint's timeout, and how many process_run tasks one run may keep busy at once.
EVAL_LLM_MAX_BACKOFF = float(os.environ.get("EVAL_LLM_MAX_BACKOFF", 30))
EVAL_LLM_LEASE_MARGIN = float(os.environ.get("EVAL_LLM_LEASE_MARGIN", 5))
EVAL_LLM_RUN_WORKERS = int(os.environ.get("EVAL_LLM_RUN_WORKERS", 8))
# The one-click demo judge (a fake model inside the web process): on with DEBUG unless set.
EVAL_FAKE_LLM_DEMO = env_bool("EVAL_FAKE_LLM_DEMO", DEBUG)
# Key material for endpoint secrets stored in the database (default: SECRET_KEY).
EVAL_SECRETS_KEY = os.environ.get("EVAL_SECRETS_KEY", "")

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # The login brake's counters: one set for every web process (gunicorn's workers each have their
    # own memory), so Redis when there is one, else files under var/ (the embedded mode's one host).
    "login": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "login"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "login-brake")}
    ),
}
# Clients reach the platform through this many trusted proxies (the documented TLS proxy: 1), which
# record the client's address in X-Forwarded-For; 0 trusts no header and uses the peer's address.
EVAL_NUM_PROXIES = int(os.environ.get("EVAL_NUM_PROXIES", 0))
EVAL_CLIENT_IP_HEADER = "HTTP_" + os.environ.get("EVAL_CLIENT_IP_HEADER", "X-Forwarded-For").upper().replace("-", "_")

# An API token lasts this long after it is issued (0: until revoked); a password change ends it at once.
EVAL_TOKEN_MAX_AGE_HOURS = float(os.environ.get("EVAL_TOKEN_MAX_AGE_HOURS", 24 * 30))

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "evalplatform.accounts.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "evalplatform.pagination.PageSizePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "evalplatform.api_schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON nested too deep or holding lone surrogates is a 400, not a 500 (evalplatform/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "evalplatform.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # The request-rate throttles find the client as the login brake does.
    "NUM_PROXIES": EVAL_NUM_PROXIES or None,
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("EVAL_THROTTLE_AUTH", "20/min"),
        "submit": os.environ.get("EVAL_THROTTLE_SUBMIT", "600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "evalplatform API",
    # Every operation documents the errors the shared layers give (auth, lookups, throttles, ...).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "evalplatform.api_schema.document_error_responses",
    ],
    "DESCRIPTION": "Rubrics, projects, the rating queue, agreement reports and exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies are documented as JSON only: form and multipart encodings cannot carry the nested
    # values (scores, expectations, settings) most bodies hold, so a client following the schema in them
    # was refused.  Flat bodies still parse as forms; import endpoints document their own media types.
    "PARSER_WHITELIST": ["evalplatform.parsers.SafeJSONParser"],
    # Several models have a "status" or "kind"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "RubricVersionStatusEnum": "rubrics.models.RubricVersion.Status",
        "JustificationEnum": "rubrics.models.RubricVersion.Justification",
        "DimensionKindEnum": "rubrics.models.Dimension.Kind",
        "ProjectKindEnum": "evalplatform.projects.models.Project.Kind",
        "AssignmentStatusEnum": "evalplatform.assignments.models.Assignment.Status",
        "ReportStatusEnum": "evalplatform.reports.models.AgreementReport.Status",
        "LlmRunKindEnum": "evalplatform.llm.models.Run.Kind",
        "LlmRunStatusEnum": "evalplatform.llm.models.Run.Status",
        "InvitationKindEnum": "evalplatform.enrolment.models.Invitation.Kind",
        "EntryLinkPlatformEnum": "evalplatform.enrolment.models.EntryLink.Platform",
    },
}

# --- Security -------------------------------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Opt-in: a preloaded domain is built into browsers and stays HTTPS-only for months after a change
    # of mind, so only an operator who means it (and owns every subdomain) should ask for it.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Django's deploy check asks for preload; leaving it off by default is the decision above.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    # When, how bad, and from where: a line from a worker, a web process or a command reads the same.
    "formatters": {"standard": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "standard"},
        "mail_admins": {"level": "ERROR", "filters": ["require_debug_false"], "class": "django.utils.log.AdminEmailHandler"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own "django" logger prints to a console handler of its own when DEBUG is on and then
    # passes the record on to the root's: every line twice under `make run`.  Here it keeps only the
    # admins' e-mail and lets the root print each line once.
    "loggers": {"django": {"handlers": ["mail_admins"], "level": "INFO"}, "django.server": {"level": "WARNING"}},
}
