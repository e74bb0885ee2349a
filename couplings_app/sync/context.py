"""What one run of one mapping in one direction knows and counts.

A `Run` holds the mapping, its job, the CRM client, the field mappings of the direction, the CRM
attributes' metadata and the page's counters; it writes counters and errors to the database once
per page (never per record).
"""

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import FieldDoesNotExist
from django.db import router
from django.db.models import prefetch_related_objects

from couplings_app.models import SyncError, SyncJob
from mappings_app import metadata
from mappings_app.choices import Direction
from mappings_app.values import key_field, local_field_of, record_key

PAGE_SIZE = 5000
# Values per IN list: under the bound parameters of every SQLite build (999 before 3.32) and of
# PostgreSQL (65,535), whatever the page size, with room for a query's other parameters.
IN_LIST_SIZE = 900


def in_chunks(values, size: int = IN_LIST_SIZE):
    """A collection cut into lists of at most `size` values, for `field__in=` queries whose
    size must not grow with the page."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass
class Failure:
    """One record that failed: what a person reads, and what is behind it."""

    message: str
    detail: str = ""
    local_id: int | None = None
    local_label: str = ""
    remote_id: str | None = None
    remote_label: str = ""


@dataclass
class FirstHalf:
    """What the ERP → CRM half of a synchronization tells the CRM → ERP half that follows it:
    its job (a coupling it stamped synchronized names it), and the CRM rows it stamped although
    they still differ from the ERP record (the CRM's own change, a field left as the CRM has it).
    Every other row it stamped holds what the ERP sends: the second half need not compare it."""

    job_id: int | None = None
    started: object = None  # when that job started (the ERP's clock)
    different: set = field(default_factory=set)  # CRM ids, lower case


@dataclass
class Run:
    mapping: object
    job: SyncJob
    client: object
    direction: str  # Direction.TO_CRM or Direction.FROM_CRM
    full: bool = False
    only_coupled: bool = True
    integration_user: str | None = None
    page_size: int = PAGE_SIZE
    counts: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    first_half: FirstHalf = field(default_factory=FirstHalf)

    def __post_init__(self):
        self.model = self.mapping.local_model_class
        self.entity = self.mapping.remote_entity
        self.entity_set = self.mapping.remote_entity_set
        self.key = self.mapping.remote_key
        if self.client is not None:  # the table is known: no metadata read before a bulk write
            self.client.know_table(self.entity_set, self.entity, self.key)
        self.modified_attr = self.mapping.remote_modified_attribute
        self.attributes = metadata.attributes(self.entity)
        every = list(
            self.mapping.field_mappings.filter(is_enabled=True)
            .select_related("transformation_rule", "lookup_mapping", "table_mapping")
            .order_by("position", "pk")
        )
        # The field mappings this direction writes, and the bidirectional ones a conflict
        # compares.
        self.fields = [fm for fm in every if fm.applies_to(self.direction)]
        self.bidirectional = [fm for fm in every if fm.direction == Direction.BIDIRECTIONAL]
        self.local_key = key_field(self.model)
        self.primary_name = metadata.entity(self.entity, fetch=False).primary_name

    def reads_only_sent_fields(self) -> bool:
        """Every ERP field this direction writes is one the ERP → CRM direction sends too."""
        return all(fm.direction == Direction.BIDIRECTIONAL for fm in self.fields
                   if fm.local_field)

    # --- describing records in messages ------------------------------------------------------
    @property
    def table_caption(self) -> str:
        return str(self.model._meta.verbose_name).capitalize()

    def local_label(self, record) -> str:
        return f"{self.table_caption} {record_key(record)}"

    def remote_label(self, row: dict | None, remote_id=None) -> str:
        name = (row or {}).get(self.primary_name) if self.primary_name else None
        ident = str(name or remote_id or (row or {}).get(self.key))
        if len(ident) > 80:  # a name of megabytes still makes a label of one line
            ident = ident[:79] + "…"
        return f"{self.entity} {ident}"

    def remote_select(self) -> list[str]:
        """The CRM attributes a page needs: key, modified-on, modified-by, the mapped ones."""
        names = {self.key, self.modified_attr, "_modifiedby_value"}
        if self.primary_name in self.attributes:
            names.add(self.primary_name)  # what messages call the row (remote_label)
        if "versionnumber" in self.attributes:
            names.add("versionnumber")  # tells changes within one second apart (remote_stamp)
        for fm in set(self.fields) | set(self.bidirectional):
            attribute = self.attributes.get(fm.remote_attribute)
            if attribute is None:
                continue
            names.add(web_name(attribute))
        return sorted(names)

    def local_related(self) -> list[str]:
        """The related records a page needs, prefetched once per page: one instance per
        distinct related record (a page of 5,000 customers shares its few salespeople)."""
        paths = set()
        for fm in set(self.fields) | set(self.bidirectional):
            field_ = local_field_of(fm) if fm.local_field else None
            if field_ is not None and field_.is_relation:
                paths.add(fm.local_field.replace(".", "__"))
            elif "." in fm.local_field:
                paths.add(fm.local_field.rsplit(".", 1)[0].replace(".", "__"))
        return sorted(paths)

    def prefetch(self, records) -> list:
        """Loads the related records `local_related()` names for a page (see `prefetch`)."""
        return prefetch(records, self.local_related())

    # --- failures ----------------------------------------------------------------------------
    def fail(self, message: str, *, detail: str = "", **where):
        """One record failed. `message` and `detail` are what a person reads (the error log's
        Message and Detail): the record, the rule, what to do; never an exception's name."""
        self.failures.append(Failure(message=message, detail=detail, **where))
        self.counts["failed"] += 1

    def flush(self, processed: int) -> None:
        """Writes the page's counters, progress and errors: a few queries per page."""
        SyncError.objects.bulk_create([
            SyncError(job=self.job, mapping=self.mapping, direction=self.direction,
                      local_model=self.mapping.local_model, local_id=f.local_id,
                      local_label=f.local_label[:200], remote_entity=self.entity,
                      remote_id=f.remote_id, remote_label=f.remote_label[:200],
                      message=f.message, detail=f.detail)
            for f in self.failures
        ])
        self.job.beat(processed, **self.counts)
        self.counts.clear()
        self.failures.clear()

    def cancelled(self) -> bool:
        """A person asked to stop, or the run was given up as dead (SyncJob.stop_asked)."""
        return self.job.stop_asked()


def prefetch(records, paths) -> list:
    """Django's prefetch_related over `paths` ("company__customer"), in queries whose size does
    not grow with the page: one instance per distinct related record, as prefetch_related gives.

    Django 5.2 prefetches a foreign key with a tuple lookup that SQLite spells as one OR per
    related record: past ~1,000 distinct ones (the companies of a page of 5,000 contacts) SQLite
    refuses it ("Expression tree is too large"). Here each foreign key step is one IN list of
    at most IN_LIST_SIZE ids per query; any other kind of relation (reverse, many-to-many) goes
    to Django's prefetch in slices of as many records, which keeps its OR chains short."""
    records = list(records)
    for path in paths:
        level = records
        names = path.split("__")
        for depth, name in enumerate(names):
            if not level:
                break
            try:
                field = level[0]._meta.get_field(name)
            except FieldDoesNotExist:  # not a relation: reading the record reports it
                break
            if not (field.concrete and (field.many_to_one or field.one_to_one)):
                rest = "__".join(names[depth:])
                for chunk in in_chunks(level):
                    prefetch_related_objects(chunk, rest)
                break
            level = _follow(level, field)
    return records


def _follow(instances, field) -> list:
    """Caches `field` (a forward foreign key) on each instance; returns the distinct related
    records, for the next step of a path."""
    target = field.target_field
    related = {}
    wanted = set()
    for instance in instances:
        if field.is_cached(instance):
            value = field.get_cached_value(instance)
            if value is not None:
                related.setdefault(getattr(value, target.attname), value)
        elif (key := getattr(instance, field.attname)) is not None:
            wanted.add(key)
    wanted -= related.keys()
    manager = field.related_model._base_manager.db_manager(
        instances[0]._state.db or router.db_for_read(field.related_model))
    for chunk in in_chunks(wanted):
        for obj in manager.filter(**{f"{target.name}__in": chunk}):
            related[getattr(obj, target.attname)] = obj
    for instance in instances:
        if not field.is_cached(instance):
            key = getattr(instance, field.attname)
            if key is None or key in related:  # a record gone meanwhile: the ORM says so
                field.set_cached_value(instance, None if key is None else related[key])
    return list({id(obj): obj for obj in related.values()}.values())


def web_name(attribute: dict) -> str:
    """The property name of an attribute in the Web API's JSON (lookups read as _x_value)."""
    from mappings_app.validation import LOOKUP, REMOTE_KINDS

    name = attribute["name"]
    return f"_{name}_value" if REMOTE_KINDS.get(attribute["type"]) == LOOKUP else name
