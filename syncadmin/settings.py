"""Settings of syncadmin, read from the environment (see README "Configuration").

Defaults give the embedded set-up: SQLite, django-q2 on the database broker, the embedded CRM.
`DATABASE_URL`, `REDIS_URL` and `CRM_URL` switch to the production services.
"""

import os
import warnings
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

from syncadmin.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG")
DATA_DIR = Path(envstr("DATA_DIR") or BASE_DIR)


def local_secret_key(path: Path) -> str:
    """A key kept in a private file, so the web server and the django-q2 cluster (which signs
    its tasks with SECRET_KEY) agree without configuration. Production sets SECRET_KEY."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = get_random_secret_key()
        path.touch(mode=0o600)
        path.write_text(key)
        return key


SECRET_KEY = envstr("SECRET_KEY") or local_secret_key(DATA_DIR / ".secret_key")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tables2",
    "django_filters",
    "django_htmx",
    "django_q",
    "syncadmin",
    "erp_app",
    "mappings_app",
    "couplings_app",
    "crm_emulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "syncadmin.middleware.FaviconMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page requires login; the embedded CRM's API opts out (it checks bearer tokens).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A GET of an action's address (a reloaded confirmation) answers a page, not a blank 405.
    "syncadmin.middleware.ActionPageMiddleware",
]

ROOT_URLCONF = "syncadmin.urls"
WSGI_APPLICATION = "syncadmin.wsgi.application"

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
                "syncadmin.navigation.navigation",
            ],
        },
    },
]


# --- Databases -------------------------------------------------------------------------------
def sqlite_database(path: Path) -> dict:
    """SQLite tuned for a web server and a django-q2 cluster writing at the same time."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "timeout": 30,  # busy timeout, seconds
            "transaction_mode": "IMMEDIATE",  # take the write lock up front: no upgrade deadlock
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # Few prepared statements kept: a page's bulk statements hold thousands of
            # parameters each, and 128 of them (the default) weigh tens of megabytes.
            "cached_statements": 16,
        },
    }


def database_from_url(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return sqlite_database(Path(config["NAME"]))
    return config


DATABASE_URL = envstr("DATABASE_URL")
CRM_DATABASE_URL = envstr("CRM_DATABASE_URL")
DATABASES = {
    "default": (
        database_from_url(DATABASE_URL)
        if DATABASE_URL
        else sqlite_database(DATA_DIR / "db.sqlite3")
    ),
    # The embedded CRM keeps its rows apart from the ERP's, as a real CRM would.
    "crm": (
        database_from_url(CRM_DATABASE_URL)
        if CRM_DATABASE_URL
        else sqlite_database(DATA_DIR / "crm.sqlite3")
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A test database in a file (one per test process), so a django-q2 cluster started by a
    # test can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test_db_{os.getpid()}.sqlite3")}
DATABASE_ROUTERS = ["crm_emulator.routers.CrmRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- django-q2 -------------------------------------------------------------------------------
REDIS_URL = envstr("REDIS_URL")
Q_CLUSTER = {
    "name": "syncadmin",
    "workers": envint("Q_WORKERS", 2),
    # A sync job may take long; `retry` must exceed `timeout` or a slow task runs twice.
    "timeout": envint("Q_TIMEOUT", 3600),
    "retry": envint("Q_TIMEOUT", 3600) + 300,
    "max_attempts": 3,  # 0 would retry forever
    "catch_up": False,  # after downtime run a schedule once, not once per missed slot
    "ack_failures": True,
    "save_limit": 1000,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"


# --- The CRM ---------------------------------------------------------------------------------
# CRM_URL unset: the embedded CRM served by this project's web server under /crm/.
CRM_URL = envstr("CRM_URL")
CRM_TENANT_ID = envstr("CRM_TENANT_ID", "demo")
CRM_CLIENT_ID = envstr("CRM_CLIENT_ID", "syncadmin-demo")
CRM_CLIENT_SECRET = envstr("CRM_CLIENT_SECRET", "demo-secret")
# Where tokens for CRM_URL come from: <authority>/<tenant>/oauth2/v2.0/token. Microsoft Entra ID
# unless set (a standalone emulator: http://host:port/crm, as `run_emulator` prints). A Connection
# whose own Authority URL is not Entra ID's default (a national cloud) keeps that one. Unused
# while CRM_URL is unset: the embedded CRM has its own token endpoint.
CRM_AUTHORITY_URL = envstr("CRM_AUTHORITY_URL", "https://login.microsoftonline.com")
# The client's writes: requests in flight at once (narrowed by the x-ms-dop-hint Dataverse
# returns, never over its limit of 52 concurrent requests), and Dataverse's bulk messages
# (CreateMultiple, UpdateMultiple, UpsertMultiple) where they apply. 1 and off: one request at
# a time, `$batch` only.
CRM_MAX_PARALLEL = max(1, envint("CRM_MAX_PARALLEL", 4))
CRM_BULK_MESSAGES = envbool("CRM_BULK_MESSAGES", "on")
# Where this project's own server listens, for the embedded CRM's URL.
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")


# --- Authentication, sessions, security ------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SECURE = envbool("SECURE", "False")  # served behind TLS: secure cookies, HSTS, redirect
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000) if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True


# --- Static files, i18n ----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app and project folders, so `make demo` needs no collectstatic.
WHITENOISE_USE_FINDERS = True
# ...and then whitenoise need not warn that STATIC_ROOT was never collected.
warnings.filterwarnings("ignore", message="No directory at")

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

FILTERS_EMPTY_CHOICE_LABEL = "(any)"

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table table-sm table-hover align-middle"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
