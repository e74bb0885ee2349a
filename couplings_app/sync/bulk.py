"""Bulk UPDATE of many rows with different values in one statement sent once (executemany).

Django's bulk_update builds CASE expressions and, on SQLite, splits a page of 5,000 rows into
hundreds of statements; an executemany of one parameterized UPDATE is one round of work on
SQLite and PostgreSQL alike, so a page costs the same whatever its size.
"""

from django.db import connections, router, transaction
from django.utils import timezone


def bulk_set(model, objs, fields) -> int:
    """Writes `fields` of each object (by pk); ERP records also get a new modified_at."""
    objs = [obj for obj in objs if obj.pk is not None]
    if not objs:
        return 0
    fields = [model._meta.get_field(name) for name in dict.fromkeys(fields)]
    if any(f.name == "modified_at" for f in model._meta.concrete_fields) and \
            "modified_at" not in {f.name for f in fields}:
        now = timezone.now()
        for obj in objs:
            obj.modified_at = now
        fields.append(model._meta.get_field("modified_at"))
    alias = router.db_for_write(model)
    connection = connections[alias]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = (f"UPDATE {quote(model._meta.db_table)} SET {assignments} "
           f"WHERE {quote(model._meta.pk.column)} = %s")
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk]
        for obj in objs
    ]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)
