"""The choice lists of the mappings forms: installed ERP tables, CRM entities and attributes, ERP
field paths, and the Table Filter hints shown next to a table.

`attribute_choices` is where the field mappings' page reads the CRM's metadata, from the CRM on a
cache miss (validation itself reads only the cache).
"""

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst

from dataverse.errors import DataverseError
from mappings_app import metadata
from mappings_app.models import EntityMetadata

# Django's own tables and the product's bookkeeping (mappings, couplings, the embedded CRM's
# storage) are never synchronized; every other installed app's concrete tables may be.
OWN_APPS = {"mappings_app", "couplings_app", "crm_emulator", "django_q"}


def local_model_choices() -> list[tuple[str, str]]:
    """Installed concrete models as app_label.modelname, the ERP's first."""
    found = []
    for model in apps.get_models():
        opts = model._meta
        config = opts.app_config
        if config.name.startswith("django.") or opts.app_label in OWN_APPS:
            continue
        if opts.abstract or opts.proxy or opts.auto_created:
            continue
        found.append(
            (opts.app_label != "erp_app", opts.app_label, opts.verbose_name, opts.label_lower)
        )
    found.sort(key=lambda item: (item[0], item[1], str(item[2])))
    return [(value, f"{capfirst(label)} ({value})") for _, _, label, value in found]


# What a table filter never needs: the row id and the bookkeeping fields every ERP table has.
FILTER_SKIPPED = {"id", "system_id", "modified_at"}
NUMBERS = (models.DecimalField, models.IntegerField, models.FloatField)


def _filter_fields(model):
    fields = [f for f in model._meta.concrete_fields
              if f.name not in FILTER_SKIPPED and not f.primary_key]
    first = ("no", "code", "name", "description", "type")  # what a person filters on first
    return sorted(fields, key=lambda f: first.index(f.name) if f.name in first else len(first))


def _first(fields, test):
    return next((f for f in fields if test(f)), None)


def _key_of(model) -> str | None:
    names = {f.name for f in model._meta.concrete_fields}
    return next((n for n in ("code", "no", "name") if n in names), None)


def table_filter_hint(model) -> dict | None:
    """The Table Filter's hint for one ERP table: some of its field names, a reference followed
    to its record's field, and examples that name its own fields (each one parses)."""
    from mappings_app.local_filter import FilterError, parse

    if model is None:
        return None
    fields = _filter_fields(model)
    choice = _first(fields, lambda f: f.choices and not f.is_relation)
    boolean = _first(fields, lambda f: isinstance(f, models.BooleanField))
    nullable = _first(fields, lambda f: f.is_relation and f.null)
    reference = nullable or _first(fields, lambda f: f.is_relation)
    number = _first(fields, lambda f: isinstance(f, models.DecimalField)) or _first(
        fields, lambda f: isinstance(f, NUMBERS) and not f.is_relation)
    date = _first(fields, lambda f: isinstance(f, models.DateField)
                  and not isinstance(f, models.DateTimeField))
    city = _first(fields, lambda f: f.name == "city")
    text = _first(fields, lambda f: f.name in ("name", "description")) or _first(
        fields, lambda f: isinstance(f, models.CharField) and not f.choices
        and f.name not in ("no", "code"))
    # A party's name (customer, vendor, contact) is a company's; other texts are descriptions.
    like = (f"{text.name} contains 'Corp'" if city and text.name == "name"
            else f"{text.name} startswith A") if text else None
    candidates = []
    if choice:
        value = choice.flatchoices[0][0]
        candidates.append(f"{choice.name} = {value}"
                          + (f" AND {nullable.name} != empty" if nullable else ""))
    if city:
        candidates.append("(city = 'New York' OR city = Boston)"
                          + (f" AND NOT {boolean.name} = true" if boolean else ""))
    elif boolean:
        candidates.append(f"{boolean.name} = false")
    if number:
        candidates.append(f"{number.name} >= 1000" + (f" AND {like}" if like else ""))
    elif like:
        candidates.append(like)
    if date:
        candidates.append(f"{date.name} >= 2024-01-01")
    if nullable and not choice:
        candidates.append(f"{nullable.name} != empty")
    if text and len(candidates) < 2:
        candidates.append(f"NOT {text.name} = empty")
    examples = []
    for candidate in candidates:
        try:
            parse(model, candidate)
        except (FilterError, ValidationError, ValueError):
            continue
        examples.append(candidate)
    follow = None
    if reference is not None and _key_of(reference.related_model):
        follow = f"{reference.name}.{_key_of(reference.related_model)}"
    return {"table": capfirst(model._meta.verbose_name), "fields": [f.name for f in fields][:10],
            "more_fields": max(0, len(fields) - 10), "reference": follow,
            "examples": examples[:3]}


def table_filter_hints() -> dict[str, dict]:
    """table_filter_hint of every table the Table field offers, by app_label.model."""
    hints = {}
    for value, _ in local_model_choices():
        try:
            hints[value] = table_filter_hint(apps.get_model(value))
        except (LookupError, ValueError):
            continue
    return hints


def entity_choices(current: str = "") -> list[tuple[str, str]]:
    """The CRM's entities: from EntityDefinitions when the CRM answers, else the cached ones."""
    names = {}
    try:
        from mappings_app.connection import crm_client

        with crm_client() as client:
            for definition in client.entity_definitions():
                names[definition["LogicalName"]] = definition.get("EntitySetName") or ""
    except (DataverseError, OSError):
        pass
    for logical_name, entity_set in EntityMetadata.objects.values_list(
        "logical_name", "entity_set"
    ):
        names.setdefault(logical_name, entity_set)
    if current and metadata.LOGICAL_NAME.fullmatch(current):
        names.setdefault(current, "")
    return [("", "---------")] + [
        (name, f"{name} ({entity_set})" if entity_set else name)
        for name, entity_set in sorted(names.items())
    ]


def local_field_choices(model, current: str = "") -> list:
    """The model's fields, then one level of foreign-key paths (company.customer) per reference."""
    if model is None:
        return [(current, current)] if current else []
    direct, grouped, known = [], [], set()
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        direct.append((field.name, f"{field.name} · {field.verbose_name}"))
        known.add(field.name)
        if field.is_relation:
            related = field.related_model
            paths = [
                (f"{field.name}.{sub.name}", f"{field.name}.{sub.name} · {sub.verbose_name}")
                for sub in related._meta.concrete_fields
                if not sub.primary_key
            ]
            known.update(path for path, _ in paths)
            grouped.append((f"via {field.name} ({related._meta.verbose_name})", paths))
    choices = [("", "— none (constant) —"), ("Fields", direct), *grouped]
    if current and current not in known:
        choices.insert(1, (current, current))
    return choices


def attribute_choices(entity: str, current: str = "") -> list | None:
    """The CRM entity's attributes with their type, or None when its metadata cannot be read."""
    try:
        attributes = metadata.attributes(entity)
    except (metadata.MetadataUnavailable, DataverseError, OSError):
        return None
    choices = [("", "— none (constant) —")]
    for name, attribute in sorted(attributes.items()):
        detail = attribute["type"]
        if attribute.get("max_length"):
            detail += f", max {attribute['max_length']}"
        if attribute.get("targets"):
            detail += " → " + ", ".join(attribute["targets"])
        choices.append((name, f"{name} ({detail})"))
    names = {c[0] for c in choices}
    if current and current not in names:
        choices.append((current, current))
    return choices
