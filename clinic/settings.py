"""Settings for the clinic backend, read from the environment.

Defaults suit a developer machine with PostgreSQL on localhost:5432 (trust auth,
user postgres) and Redis on localhost:6379. Production must set SECRET_KEY and
leaves DEBUG off (the default).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

# A development key is only acceptable when DEBUG is on; anything else must be given.
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-deploy"
SECRET_KEY = env_str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("The development SECRET_KEY cannot be used with DEBUG off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "clinic.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served by us, not a CDN
    # Security (issue 7): lockout, two-factor, CORS
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "corsheaders",
    "clinic.apps.ClinicConfig",
    "patients",
    "programs",
    "scheduling",
    "reminders",
    "admissions",  # issue 14: referrals, waitlist, reservations
    "accounts",  # the patient app's accounts: invitations, password resets, deactivation (issue 13)
    "utilization",  # payer authorizations and utilization review (issue 15)
    "exchange",  # FHIR R4 on top of every app (issue 16)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware, so preflight requests get their CORS answer.
    "corsheaders.middleware.CorsMiddleware",
    # Request id + one bulk insert of the request's audit rows; outside the rest
    # so everything inside (logins, admin views, API views) can record.
    "clinic.audit.AuditMiddleware",
    # ETag and 304 Not Modified on the patient app's /me/ reads (issue 13); inside the audit, which still records.
    "clinic.api.conditional.MeConditionalGetMiddleware",
    # /me/ in the patient's language, or the app's Accept-Language (issue 13); inside the ETag, which hashes the text.
    "clinic.api.language.MeLanguageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Staff read times in their sites' zone (issue 12); after the user and the session are known.
    "clinic.localtime.StaffTimeZoneMiddleware",
    "clinic.otp.EnrolledStaffNeedOTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-axes wants to be last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "clinic" / "templates"],
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

WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", default="postgres://postgres@localhost:5432/clinic"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database roles (issue 11) ------------------------------------------------------------
# DATABASE_URL is the application's role, which owns nothing; DATABASE_OWNER_URL is the role
# that owns the schema: `migrate` and `ensure_db` connect as it and grant the application its
# row privileges (clinic.dbroles). Unset, the application connects as the owner (a developer's
# superuser, the test suite). Only its user, password, host and port are used.
DATABASE_OWNER = None
if _owner_url := env_str("DATABASE_OWNER_URL", default=""):
    DATABASE_OWNER = dj_database_url.parse(_owner_url)
    if DATABASE_OWNER["NAME"] != DATABASES["default"]["NAME"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL and DATABASE_URL must name the same database.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Everything is stored in UTC; local rules (quiet hours, "18:00 every Tuesday")
# use the IANA zone kept beside the data (program, patient).
TIME_ZONE = "UTC"
USE_I18N = True
# The patient's own language (issue 13): Patient.preferred_language, Accept-Language on /me/.
# Another language is a new locale/<code>/LC_MESSAGES/django.po and a line here.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REDIS_URL = env_str("REDIS_URL", default="redis://localhost:6379/0")

# Shared by every process (throttle counters must be, across gunicorn workers).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "clinic",
        # Fail fast while Redis restarts (sign-in then answers 503) rather than hold a worker.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None  # tasks record their outcome in PostgreSQL rows
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# Our tasks are idempotent, so a task whose worker died is safer redelivered than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
# Must exceed the hard time limit, or Redis redelivers a task that is still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {}

# --- Scheduling (IOP session schedules) ---------------------------------------

# Sessions exist this many weeks ahead; the nightly run rolls the horizon on.
SCHEDULING_HORIZON_WEEKS = env_int("SCHEDULING_HORIZON_WEEKS", 8)
# A patient's Nth absence in a row opens a follow-up item for the program's staff.
SCHEDULING_MISSED_SESSIONS_FOLLOW_UP = env_int("SCHEDULING_MISSED_SESSIONS_FOLLOW_UP", 2)
CELERY_BEAT_SCHEDULE["scheduling-generate-sessions"] = {
    "task": "scheduling.generate_sessions",
    "schedule": crontab(hour=2, minute=15),
    # A run that waited past the next one is redundant: generation is idempotent.
    "options": {"expires": 6 * 3600},
}
# --- Admissions (issue 14): a reservation not admitted by its expiry lapses -------------
CELERY_BEAT_SCHEDULE["admissions-lapse-reservations"] = {
    "task": "admissions.lapse_reservations",
    "schedule": crontab(minute="*/15"),
    "options": {"expires": 600},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")

# --- FHIR R4 (issue 16) -------------------------------------------------------
# The provider as an Organization, and the base of this installation's own code systems (ASAM level, MRN).
FHIR_ORGANIZATION_ID = env_str("FHIR_ORGANIZATION_ID", default="provider")
FHIR_ORGANIZATION_NAME = env_str("FHIR_ORGANIZATION_NAME", default="Clinic programs")
FHIR_CODE_SYSTEM_BASE = env_str("FHIR_CODE_SYSTEM_BASE", default="urn:clinic-programs:")
FHIR_DEFAULT_COUNT = env_int("FHIR_DEFAULT_COUNT", 20)
FHIR_MAX_COUNT = env_int("FHIR_MAX_COUNT", 100)
# API clients' access tokens are short-lived, as SMART Backend Services recommends (at most 5 minutes).
FHIR_CLIENT_TOKEN_SECONDS = env_int("FHIR_CLIENT_TOKEN_SECONDS", 300)
# Bulk export files: where they are written, and how long they may be downloaded.
FHIR_EXPORT_ROOT = Path(env_str("FHIR_EXPORT_ROOT", default=str(BASE_DIR / "var" / "exports")))
FHIR_EXPORT_HOURS = env_int("FHIR_EXPORT_HOURS", 24)
CELERY_BEAT_SCHEDULE["exchange-purge-exports"] = {
    "task": "exchange.purge_expired_exports",
    "schedule": crontab(minute="*/30"),
    "options": {"expires": 1800},
}

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, with the caller's role and patient record loaded in the same query (issue 17).
        "clinic.api.authentication.CallerJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # staff in the browsable API
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "clinic.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clinic.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("API_AUTH_THROTTLE", default="10/minute"),
        # The patient app's codes (issue 13): per client address, and per code from every address.
        "app_code": env_str("API_CODE_THROTTLE", default="10/minute"),
        "app_code_per_code": env_str("API_CODE_PER_CODE_THROTTLE", default="5/minute"),
        "app_reset_per_login": env_str("API_RESET_PER_LOGIN_THROTTLE", default="3/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if not DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": dt.timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 10)),
    "REFRESH_TOKEN_LIFETIME": dt.timedelta(days=env_int("JWT_REFRESH_DAYS", 14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic programs API",
    "DESCRIPTION": (
        "The patient app and staff tools. Authenticate with a JWT from /api/v1/auth/token/ "
        "(Authorization: Bearer <access>). Every 4xx answers with one error body: "
        '{"error": {"code", "message", "fields"?}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The contract holds no patient data: anyone may read it, so a mobile team can start from /api/docs/.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clinic.api.schema.add_error_responses",
        "clinic.api.schema.forbid_unknown_request_fields",  # issue 11: unknown body fields are refused
    ],
    # REST API (issue 5): stable names for choice sets that share a field name.
    "ENUM_NAME_OVERRIDES": {
        "PlacementKindEnum": "programs.models.PlacementKind",
        "TransitionKindEnum": "programs.models.TransitionKind",
        "SessionKindEnum": "scheduling.models.SessionKind",
        "EpisodeStatusEnum": "programs.models.EpisodeStatus",
        "BedStatusEnum": "programs.models.Bed.Status",
        "SessionStatusEnum": "scheduling.models.SessionStatus",
        "AftercarePlanStatusEnum": "programs.models.AftercarePlan.Status",
        "CheckInStatusEnum": "programs.models.AftercareCheckIn.Status",
        "PatientResponseEnum": "scheduling.models.PatientResponse",
        # Admissions (issue 14)
        "ReferralSourceEnum": "admissions.models.ReferralSource",
        "AsamLevelEnum": "programs.models.AsamLevel",
        "ReferralStatusEnum": "admissions.models.ReferralStatus",
        "ReservationStatusEnum": "admissions.models.ReservationStatus",
    },
}

# --- Domain rules -----------------------------------------------------------
# How far ahead a transition or discharge may be dated; further out is a typo.
CLINIC_MAX_DAYS_AHEAD = env_int("CLINIC_MAX_DAYS_AHEAD", 14)

# --- Security (issue 7) ----------------------------------------------------------------
# Logins: django-axes counts failures and locks the username out; it must come first.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# By username: a clinic's staff often share one public IP, so locking an address
# would lock the whole nurses' station out. `manage.py axes_reset_username` unlocks early.
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "clinic.audit.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token"]

# Staff sessions expire after this long idle (every request pushes the expiry on).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Behind a reverse proxy, the number of proxies whose X-Forwarded-For entries to trust
# (0: use the socket address). Used for the audit trail and the lockout alike.
CLINIC_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# The audit trail (issue 17): monthly partitions created this many months ahead, and months older
# than the retention period exported to gzip CSV in the archive folder, verified, then dropped.
# Six years is HIPAA's documentation period; the database refuses to drop anything younger.
CLINIC_AUDIT_PARTITIONS_AHEAD = env_int("CLINIC_AUDIT_PARTITIONS_AHEAD", 3)
CLINIC_AUDIT_RETENTION_YEARS = env_int("CLINIC_AUDIT_RETENTION_YEARS", 6)
if CLINIC_AUDIT_RETENTION_YEARS < 6 or CLINIC_AUDIT_PARTITIONS_AHEAD < 1:
    raise ImproperlyConfigured(
        "CLINIC_AUDIT_RETENTION_YEARS must be at least 6 (HIPAA) and CLINIC_AUDIT_PARTITIONS_AHEAD at least 1."
    )
CLINIC_AUDIT_ARCHIVE_DIR = Path(env_str("CLINIC_AUDIT_ARCHIVE_DIR", default=str(BASE_DIR / "var" / "audit-archive")))
CELERY_BEAT_SCHEDULE["clinic-audit-create-partitions"] = {
    "task": "clinic.audit_create_partitions",
    "schedule": crontab(hour=1, minute=5),
    "options": {"expires": 12 * 3600},
}
CELERY_BEAT_SCHEDULE["clinic-audit-retire-partitions"] = {
    "task": "clinic.audit_retire_partitions",
    "schedule": crontab(hour=3, minute=35),
    "options": {"expires": 12 * 3600},
}

# HTTPS-only cookies and headers unless DEBUG; each can be switched off by env for an
# unusual deployment, but the defaults are what `check --deploy` asks for.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    # Only when the proxy strips the header from clients; otherwise anyone could claim HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# HSTS preload is a commitment to the browsers' list that the deployer makes by
# submitting the domain; it is opt-in (SECURE_HSTS_PRELOAD=1), so its reminder is silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# axes.W006 asks for the IP among the lockout parameters, against attackers who rotate
# user agents; with the username alone, rotating anything else does not help them.
SILENCED_SYSTEM_CHECKS += ["axes.W006"]

# The API is called from the patient app's origins only; the admin never needs CORS.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False

# Two-factor: staff may enrol a TOTP device; once they have one, the admin requires it.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", default="Clinic programs")

# No patient data in logs: every handler passes through the PHI filter (e-mails,
# phone numbers and query strings are masked) and carries the request id. No
# mail_admins handler: error e-mails would carry request bodies.
# --- Reminders (reminders/) -------------------------------------------------------------
# Channel backends are dotted paths, like EMAIL_BACKEND. Development (DEBUG) prints to the console.
_CONSOLE = "reminders.channels.console.ConsoleChannel"
REMINDERS_SMS_BACKEND = env_str(
    "REMINDERS_SMS_BACKEND", default=_CONSOLE if DEBUG else "reminders.channels.http.TwilioSmsChannel"
)
REMINDERS_EMAIL_BACKEND = env_str("REMINDERS_EMAIL_BACKEND", default="reminders.channels.email.DjangoEmailChannel")
REMINDERS_PUSH_BACKEND = env_str(
    "REMINDERS_PUSH_BACKEND", default=_CONSOLE if DEBUG else "reminders.channels.http.FcmPushChannel"
)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND", default=f"django.core.mail.backends.{'console' if DEBUG else 'smtp'}.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
REMINDERS_EMAIL_FROM = env_str("REMINDERS_EMAIL_FROM", default="reminders@clinic.example")
REMINDERS_EMAIL_DOMAIN = env_str("REMINDERS_EMAIL_DOMAIN", default="clinic.example")
REMINDERS_EMAIL_TIMEOUT = env_float("REMINDERS_EMAIL_TIMEOUT", 10.0)
REMINDERS_FILE_PATH = env_str("REMINDERS_FILE_PATH", default=str(BASE_DIR / "var" / "reminders.jsonl"))
# Twilio-compatible SMS API; the auth token also verifies the inbound webhook's signature.
REMINDERS_TWILIO_API_BASE = env_str("REMINDERS_TWILIO_API_BASE", default="https://api.twilio.com")
REMINDERS_TWILIO_ACCOUNT_SID = env_str("REMINDERS_TWILIO_ACCOUNT_SID", default="")
REMINDERS_TWILIO_AUTH_TOKEN = env_str("REMINDERS_TWILIO_AUTH_TOKEN", default="")
REMINDERS_TWILIO_FROM_NUMBER = env_str("REMINDERS_TWILIO_FROM_NUMBER", default="")
REMINDERS_TWILIO_MESSAGING_SERVICE_SID = env_str("REMINDERS_TWILIO_MESSAGING_SERVICE_SID", default="")
REMINDERS_SMS_WEBHOOK_BASE_URL = env_str("REMINDERS_SMS_WEBHOOK_BASE_URL", default="")
# FCM HTTP v1. The token provider is a dotted path to a callable returning an OAuth2 access token.
REMINDERS_FCM_API_BASE = env_str("REMINDERS_FCM_API_BASE", default="https://fcm.googleapis.com")
REMINDERS_FCM_PROJECT_ID = env_str("REMINDERS_FCM_PROJECT_ID", default="")
REMINDERS_FCM_ACCESS_TOKEN = env_str("REMINDERS_FCM_ACCESS_TOKEN", default="")
REMINDERS_FCM_TOKEN_PROVIDER = env_str(
    "REMINDERS_FCM_TOKEN_PROVIDER", default="reminders.channels.http.static_fcm_token"
)
REMINDERS_HTTP_CONNECT_TIMEOUT = env_float("REMINDERS_HTTP_CONNECT_TIMEOUT", 3.05)
REMINDERS_HTTP_READ_TIMEOUT = env_float("REMINDERS_HTTP_READ_TIMEOUT", 10.0)
# Which channels each reminder is planned on; send-time rules drop the ones a patient cannot receive.
REMINDERS_CHANNELS = env_list("REMINDERS_CHANNELS", default=["sms", "email", "push"])
# Aftercare check-ins: (days relative to the due date, local time in the patient's zone).
# Session reminders are planned for sessions starting within this many hours (the sweep moves
# the window along every 15 minutes); it must exceed the longest reminder offset plus a margin.
REMINDERS_PLANNING_HORIZON_HOURS = env_int("REMINDERS_PLANNING_HORIZON_HOURS", 72)
REMINDERS_CHECKIN_SCHEDULE = {"day_before": (-1, "10:00"), "morning_of": (0, "08:30")}
# The neutral sender when a site has no messaging profile. Never a site's or program's own name.
REMINDERS_DEFAULT_DISPLAY_NAME = env_str("REMINDERS_DEFAULT_DISPLAY_NAME", default="Appointments")
REMINDERS_DEFAULT_REPLY_PHONE = env_str("REMINDERS_DEFAULT_REPLY_PHONE", default="")
REMINDERS_SMS_DAILY_CAP = env_int("REMINDERS_SMS_DAILY_CAP", 1)
REMINDERS_SMS_WEEKLY_CAP = env_int("REMINDERS_SMS_WEEKLY_CAP", 3)
# A text due within this many minutes rides along in a merged message; none goes out earlier.
REMINDERS_MERGE_EARLY_MINUTES = env_int("REMINDERS_MERGE_EARLY_MINUTES", 15)
if not 0 <= REMINDERS_MERGE_EARLY_MINUTES <= 120:
    raise ImproperlyConfigured("REMINDERS_MERGE_EARLY_MINUTES must be between 0 and 120.")
# Dispatch. The lease must outlive the task's hard time limit, or a slow live worker's rows are re-sent.
REMINDERS_BATCH_SIZE = env_int("REMINDERS_BATCH_SIZE", 100)
# Sends recorded per UPDATE; a worker killed mid-group re-sends at most this many (same keys).
REMINDERS_RECORD_EVERY = env_int("REMINDERS_RECORD_EVERY", 25)
REMINDERS_MAX_FANOUT = env_int("REMINDERS_MAX_FANOUT", 8)
REMINDERS_LEASE_SECONDS = env_int("REMINDERS_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 60)
REMINDERS_WORKER_BUDGET_SECONDS = env_float("REMINDERS_WORKER_BUDGET_SECONDS", 50.0)
REMINDERS_DELIVER_TASK_EXPIRES = env_int("REMINDERS_DELIVER_TASK_EXPIRES", 120)
REMINDERS_MAX_ATTEMPTS = env_int("REMINDERS_MAX_ATTEMPTS", 6)
REMINDERS_RETRY_BASE_SECONDS = env_float("REMINDERS_RETRY_BASE_SECONDS", 30.0)
REMINDERS_RETRY_MAX_SECONDS = env_float("REMINDERS_RETRY_MAX_SECONDS", 3600.0)
if REMINDERS_LEASE_SECONDS <= CELERY_TASK_TIME_LIMIT and not env_bool("REMINDERS_ALLOW_SHORT_LEASE"):
    raise ImproperlyConfigured("REMINDERS_LEASE_SECONDS must exceed CELERY_TASK_TIME_LIMIT.")
# Tests (and deployments sharing a Redis) give each worker set its own queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_BEAT_SCHEDULE.update(
    {
        "reminders-dispatch": {
            "task": "reminders.tasks.dispatch_due_reminders",
            "schedule": crontab(),  # every minute
            "options": {"expires": 50},
        },
        "reminders-plan": {
            "task": "reminders.tasks.plan_reminders",
            "schedule": crontab(minute="*/15"),
            "options": {"expires": 600},
        },
    }
)
# --- end of Reminders -----------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_phi": {"()": "clinic.logfilters.RedactPHIFilter"},
        "request_id": {"()": "clinic.logfilters.RequestIdFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact_phi"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Failures and lockouts are warnings; its start-up banner is noise.
        "axes": {"level": "WARNING"},
    },
}

# --- Benchmarks (issue 8) ---------------------------------------------------------------
# `make bench` compares the API with minimal raw-SQL views of the same rows. They are
# mounted only when this is on (the bench's own gunicorn), never in production.
BENCH_VIEWS = env_bool("BENCH_VIEWS", default=False)

# --- The patient app's accounts (accounts/, issue 13) -------------------------------------
# Invitation and reset texts carry a link to the app with the code in its fragment.
PATIENT_APP_LINK = env_str("PATIENT_APP_LINK", default="clinicapp://activate")
