"""The world of test_no_unasked_writes.py: what the field mappings write where (`Fields`), the
settled state every example starts from and goes back to (`Baseline`, the `settled` fixture),
both sides as they are (`erp_state`, `crm_state`), and a person's random edits on either side
(`EDITS`, `POLICY`, `apply_edits`). `settled` reaches the tests through conftest.py."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db.models import DecimalField, Max
from hypothesis import strategies as st

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize
from crm_emulator.models import Row
from mappings_app.choices import Direction, UpdateConflictResolution
from mappings_app.models import TableMapping
from mappings_app.order import sync_order

NAMES = ["CURRENCY", "SALESPEOPLE", "UNIT OF MEASURE", "CUSTOMER", "CONTACT"]
# What a person edits in the ERP; the CRM attributes a person edits are the ones the field
# mappings pair with these fields (whatever their direction).
EDITED = {
    "CUSTOMER": ["name", "city", "phone_no", "email", "fax_no", "credit_limit_lcy"],
    "CONTACT": ["first_name", "surname", "phone_no", "email"],
}
WORDS = ["Alpha", "Beta", "Gamma", "Delta", "Omega", "Sigma", "Kappa"]
POLICIES = [UpdateConflictResolution.NONE, UpdateConflictResolution.NONE,
            UpdateConflictResolution.SEND, UpdateConflictResolution.GET]
KINDS = ["ERP", "CRM", "both, same field", "both, other field", "ERP, saved unchanged",
         "CRM, saved unchanged"]


# --- the field mappings --------------------------------------------------------------------------
@dataclass
class Fields:
    """What a table mapping writes where, from its enabled field mappings."""

    mapping: TableMapping
    to_erp: dict = field(default_factory=lambda: defaultdict(set))  # attribute -> ERP attnames
    to_crm: dict = field(default_factory=lambda: defaultdict(set))  # ERP attname -> attributes
    to_crm_only: set = field(default_factory=set)  # attributes only ever sent to the CRM
    pairs: dict = field(default_factory=dict)  # (attname, attribute) -> "local ↔ remote" name
    attributes: set = field(default_factory=set)  # every mapped CRM attribute

    @classmethod
    def of(cls, mapping):
        fields = cls(mapping)
        model = mapping.local_model_class
        for fm in mapping.field_mappings.filter(is_enabled=True).order_by("position", "pk"):
            if not fm.remote_attribute:
                continue
            fields.attributes.add(fm.remote_attribute)
            if not fm.local_field or "." in fm.local_field:
                if mapping.direction != Direction.FROM_CRM and \
                        fm.direction != Direction.FROM_CRM:
                    fields.to_crm[fm.local_field or "(constant)"].add(fm.remote_attribute)
                continue
            attname = model._meta.get_field(fm.local_field).attname
            fields.pairs[(attname, fm.remote_attribute)] = \
                f"{fm.local_field} ↔ {fm.remote_attribute}"
            sends = mapping.direction != Direction.FROM_CRM and fm.direction != Direction.FROM_CRM
            takes = mapping.direction != Direction.TO_CRM and fm.direction != Direction.TO_CRM
            if sends:
                fields.to_crm[attname].add(fm.remote_attribute)
            if takes:
                fields.to_erp[fm.remote_attribute].add(attname)
            if sends and not takes:
                fields.to_crm_only.add(fm.remote_attribute)
        return fields

    def counterparts(self, attname) -> list[str]:
        """The CRM attributes paired with an ERP field, whatever the direction."""
        return sorted({a for (f, a) in self.pairs if f == attname})

    def name(self, attname, attribute) -> str | None:
        return self.pairs.get((attname, attribute))


# --- the state every example starts from ---------------------------------------------------------
class Baseline:
    """The settled state after the second synchronization, put back after each example: what
    differs from it is written back as it was (stamps and versions included), what was created
    is deleted, what was deleted is created again."""

    def __init__(self, models):
        self.models = models
        self.managers = [Coupling._base_manager, Row._base_manager,
                         *[m._base_manager for m in reversed(models)],  # contacts first
                         TableMapping._base_manager]
        self.objects = {id(m): list(m.order_by("pk")) for m in self.managers}
        self.values = {id(m): self._values(m) for m in self.managers}
        self.last_job = SyncJob.objects.aggregate(n=Max("pk"))["n"] or 0
        self.last_error = SyncError.objects.aggregate(n=Max("pk"))["n"] or 0

    @staticmethod
    def _values(manager):
        return {row["pk"]: row for row in manager.values("pk", *[
            f.attname for f in manager.model._meta.concrete_fields if not f.primary_key])}

    def restore(self):
        SyncError.objects.filter(pk__gt=self.last_error).delete()
        SyncJob.objects.filter(pk__gt=self.last_job).delete()
        for manager in self.managers:
            remembered, now = self.values[id(manager)], self._values(manager)
            if extra := set(now) - set(remembered):
                manager.filter(pk__in=extra).delete()
            objects = self.objects[id(manager)]
            if gone := [o for o in objects if o.pk not in now]:
                manager.bulk_create(gone)
            if changed := [o for o in objects if o.pk in now and now[o.pk] != remembered[o.pk]]:
                manager.bulk_update(changed, [f.name for f in manager.model._meta.concrete_fields
                                              if not f.primary_key])


@pytest.fixture
def settled(crm, demo, as_crm_user):
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        match_based_coupling(demo[name], client=crm)
    order = [m for m in sync_order() if m.name in NAMES]
    for mapping in order:
        for job in synchronize(mapping, client=crm, full=True, only_coupled=False):
            assert job.status == JobStatus.SUCCEEDED, (mapping.name, job.message)
    run_modified(crm)
    models = [m.local_model_class for m in order]
    return crm, as_crm_user, Baseline(models)


def run_modified(client):
    """Synchronize Modified Records of the five mappings, in the synchronization order."""
    jobs = []
    for mapping in [m for m in sync_order() if m.name in NAMES]:
        jobs += synchronize(mapping, client=client)
    for job in jobs:
        assert job.status == JobStatus.SUCCEEDED, (job.mapping_name, job.direction, job.message)
    return jobs


# --- both sides, as they are ---------------------------------------------------------------------
def erp_state(models):
    return {(m._meta.label_lower, r["id"]): r
            for m in models for r in m._base_manager.order_by("pk").values()}


def crm_state():
    return {(r.entity, str(r.rowid).lower()): {"data": r.data, "modifiedon": r.modifiedon,
                                                 "modifiedby": r.modifiedby,
                                                 "versionnumber": r.versionnumber}
            for r in Row.objects.order_by("pk")}


# --- the edits -----------------------------------------------------------------------------------
EDIT = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(sorted(EDITED)),
    st.integers(min_value=0, max_value=999),  # which coupled record (modulo their number)
    st.integers(min_value=0, max_value=999),  # which field
    st.integers(min_value=0, max_value=999),  # the other field (both sides, other field)
    st.sampled_from(WORDS),
    st.integers(min_value=0, max_value=999),  # makes the value
)
EDITS = st.lists(EDIT, max_size=7)
POLICY = st.fixed_dictionaries({name: st.sampled_from(POLICIES) for name in sorted(EDITED)})


def erp_value(model, attname, word, number, sequence):
    if isinstance(model._meta.get_field(attname), DecimalField):
        return Decimal(f"{100000 + 1000 * sequence + number}.00")
    return text_value(attname, word, number, sequence, "e")


def crm_value(attribute, fields, word, number, sequence):
    local = sorted(fields.to_erp.get(attribute) or
                   [f for (f, a) in fields.pairs if a == attribute])[0]
    model = fields.mapping.local_model_class
    if isinstance(model._meta.get_field(local), DecimalField):
        return float(200000 + 1000 * sequence + number)
    return text_value(local, word, number, sequence, "c")


def text_value(attname, word, number, sequence, side):
    """Never a value either side holds already, never the other side's (a same-field conflict
    must differ), short enough for every field edited here."""
    if "email" in attname:
        return f"{word.lower()}.{side}{sequence}x{number}@edit.example"
    if "phone" in attname or "fax" in attname:
        return f"+1 555 {1 if side == 'e' else 2}{sequence:02d} {number:03d}"
    return f"{word} {side.upper()}{sequence}x{number}"


@dataclass
class Edited:
    erp: dict = field(default_factory=lambda: defaultdict(dict))  # (mapping, local id) -> values
    crm: dict = field(default_factory=lambda: defaultdict(dict))  # (mapping, remote id) -> values
    erp_saved: set = field(default_factory=set)  # (mapping, local id) a person saved
    crm_saved: set = field(default_factory=set)  # (mapping, remote id) a person saved
    lines: list = field(default_factory=list)


def candidates(mapping):
    """Coupled pairs whose last synchronization succeeded both ways (failed or skipped records
    are left alone: the run retries them, which is not what this property is about)."""
    return list(Coupling.objects.filter(
        local_model=mapping.local_model, remote_entity=mapping.remote_entity,
        pending_create=False, skipped=False).exclude(last_result_to_crm="failure")
        .exclude(last_result_from_crm="failure").order_by("local_id"))


def apply_edits(edits, fields, person) -> Edited:
    done = Edited()
    pairs = {name: candidates(fields[name].mapping) for name in EDITED}
    for sequence, (kind, name, which, first, second, word, number) in enumerate(edits):
        f = fields[name]
        coupling = pairs[name][which % len(pairs[name])]
        model = f.mapping.local_model_class
        erp_field = EDITED[name][first % len(EDITED[name])]
        remote_id = str(coupling.remote_id).lower()
        if kind == "ERP, saved unchanged":
            model.objects.get(pk=coupling.local_id).save()
            done.erp_saved.add((name, coupling.local_id))
            done.lines.append(f"ERP {name} {coupling.local_id}: saved unchanged")
            continue
        if kind == "CRM, saved unchanged":
            attribute = f.counterparts(erp_field)[0]
            value = person.get(f.mapping.remote_entity_set, remote_id, select=[attribute])
            person.update(f.mapping.remote_entity_set, remote_id,
                          {attribute: value.get(attribute)})
            done.crm_saved.add((name, remote_id))
            done.lines.append(f"CRM {name} {remote_id}: saved unchanged ({attribute} = "
                              f"{value.get(attribute)!r})")
            continue
        if kind in ("ERP", "both, same field", "both, other field"):
            record = model.objects.get(pk=coupling.local_id)
            value = erp_value(model, erp_field, word, number, sequence)
            setattr(record, erp_field, value)
            record.save()
            done.erp[(name, coupling.local_id)][erp_field] = value
            done.erp_saved.add((name, coupling.local_id))
            done.lines.append(f"ERP {name} {coupling.local_id}: {erp_field} = {value!r}")
        if kind != "ERP":
            crm_field = erp_field
            if kind == "both, other field":
                others = [x for x in EDITED[name] if x != erp_field]
                crm_field = others[second % len(others)]
            elif kind == "CRM":
                crm_field = EDITED[name][second % len(EDITED[name])]
            attribute = f.counterparts(crm_field)[0]
            value = crm_value(attribute, f, word, number, sequence)
            person.update(f.mapping.remote_entity_set, remote_id, {attribute: value})
            done.crm[(name, remote_id)][attribute] = value
            done.crm_saved.add((name, remote_id))
            done.lines.append(f"CRM {name} {remote_id}: {attribute} = {value!r}")
    return done


def describe_row_change(before, after):
    keys = set(before["data"]) | set(after["data"])
    changed = {k: (before["data"].get(k), after["data"].get(k)) for k in sorted(keys)
               if before["data"].get(k) != after["data"].get(k)}
    stamps = {k: (before[k], after[k]) for k in ("modifiedon", "versionnumber", "modifiedby")
              if before[k] != after[k]}
    return f"{changed} {stamps}"

