import sqlite3

from django.apps import AppConfig

# SQLite has accepted 32,766 parameters per statement since 3.32; Django still assumes 999 and
# splits a bulk write of a 5,000-row page into hundreds of statements.
MODERN_SQLITE_PARAMS = 32766


class SyncadminConfig(AppConfig):
    name = "syncadmin"
    verbose_name = "syncadmin"

    def ready(self):
        if sqlite3.sqlite_version_info >= (3, 32):
            from django.db.backends.sqlite3.base import DatabaseWrapper

            DatabaseWrapper.features_class.max_query_params = MODERN_SQLITE_PARAMS
