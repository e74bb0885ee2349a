"""A record's values on their way across, for the engine and the pages alike.

`ToCrmPayload`: an ERP record as the CRM attributes the run to the CRM writes (`@odata.bind` for
references, the mapping's CRM template for creates), and which of them differ from a CRM row.
`FromCrmValues`: a CRM row as the ERP fields the run from the CRM writes, and a new ERP record
from one (the mapping's ERP template, a number from its series). `PathTargets`: the records a
path such as `company.customer` reaches, per page. `crm_values` converts one row with no job
(the conflict page compares and takes values through it).

Each value goes through `mappings_app.values` (constant, transformation, type conversion,
references through couplings); here is what a whole record makes of them.
"""

import re

from django.db.models import Max
from django.utils import timezone

from couplings_app.sync import rules
from couplings_app.sync.bulk import new_instance
from couplings_app.sync.compare import remote_date_equal, same
from couplings_app.sync.compiled import local_converter, local_reader, remote_converter
from couplings_app.sync.context import Run, web_name
from couplings_app.sync.lookups import FromCrmLookups, bind_name
from mappings_app.choices import Direction
from mappings_app.validation import DATE, LOOKUP, REMOTE_KINDS, resolve_local_field
from mappings_app.values import (
    Reference,
    ValueProblem,
    local_value,
    record_key,
    remote_value,
)

SERIES = re.compile(r"#+")


def conversion(mapping, client, direction) -> Run:
    """What converting a record of `mapping` needs (its field mappings, the CRM attributes'
    metadata, the client for references), outside any synchronization: a Run with no job."""
    return Run(mapping=mapping, job=None, client=client, direction=direction)


def crm_values(run, row) -> dict:
    """{attname: value} of the ERP record from one CRM row (`run` from the CRM)."""
    resolve = FromCrmLookups(run, [row])
    return FromCrmValues(run).values(row, resolve, PathTargets(run, [row], resolve), create=False)


def differing(values: dict, record) -> dict:
    """The ERP values that differ from the record's."""
    return {name: value for name, value in values.items() if not same(getattr(record, name), value)}


class ToCrmPayload:
    """The CRM attributes of ERP records, for one run to the CRM."""

    def __init__(self, run):
        self.run = run
        self.binds = {}  # "ownerid@odata.bind" -> "_ownerid_value", to compare with the row
        self.partial = set()  # records whose CRM row keeps values that differ from the ERP's
        self._template = self._shared = self._plan = None
        self._compare = {}  # payload name -> (the row's property, compared as a date)

    def plan(self) -> list:
        """Per field mapping of the direction, decided once per run: (field mapping, CRM
        attribute, reader of the ERP value or None, converter, a reference)."""
        if self._plan is None:
            run = self.run
            self._plan = []
            for fm in run.fields:
                if not fm.remote_attribute:
                    continue
                attribute = run.attributes[fm.remote_attribute]
                read = local_reader(run.model, fm.local_field) if fm.local_field else None
                self._plan.append((fm, attribute, read, remote_converter(fm, attribute),
                                   REMOTE_KINDS.get(attribute["type"]) == LOOKUP))
        return self._plan

    def key(self, fm) -> str:
        """The payload's name of a field mapping's attribute."""
        attribute = self.run.attributes[fm.remote_attribute]
        if REMOTE_KINDS.get(attribute["type"]) == LOOKUP and fm.lookup_mapping:
            return bind_name(attribute, fm.lookup_mapping.remote_entity) + "@odata.bind"
        return fm.remote_attribute

    def shared(self) -> set:
        """The payload names of the fields both directions write (those a conflict is about)."""
        if self._shared is None:
            self._shared = {self.key(fm) for fm in self.run.bidirectional}
        return self._shared

    def payload(self, record, resolve, create: bool) -> dict:
        """The CRM attributes of the record: template (creates), then the field mappings."""
        run = self.run
        values = self.template() if create else {}
        for fm, attribute, read, convert, lookup in self.plan():
            source = read(record) if read is not None else None
            try:
                value = convert(source, resolve)
            except ValueProblem as problem:
                raise ValueProblem(f"{run.local_label(record)}: {problem}") from None
            if lookup:
                target = fm.lookup_mapping
                if value is None and (create or attribute.get("required")):
                    self.not_sent(record, fm)
                    continue  # a required reference (the owner) is never cleared
                name = bind_name(attribute, target.remote_entity) + "@odata.bind"
                self.binds[name] = web_name(attribute)
                values[name] = f"/{target.remote_entity_set}({value})" if value else None
            elif create and value is None and fm.remote_attribute in values:
                self.not_sent(record, fm)
                continue  # an empty field never overwrites the template's default
            else:
                values[fm.remote_attribute] = value
        rules.complete_payload(run, record, values, create)
        return values

    def not_sent(self, record, fm):
        """A field both directions compare that this write leaves as the CRM has it."""
        if fm.direction == Direction.BIDIRECTIONAL:
            self.partial.add(record.pk)

    def template(self) -> dict:
        """The mapping's CRM template; a lookup's value (a GUID, or the code of a coupled ERP
        record such as a currency) becomes an @odata.bind."""
        if self._template is None:
            self._template = rules.remote_template(self.run)
        return dict(self._template)

    def changes(self, payload: dict, row: dict) -> dict:
        """The attributes whose value differs from the CRM row's."""
        run = self.run
        diff = {}
        for name, value in payload.items():
            if name in self.binds:
                current = row.get(self.binds[name])
                wanted = value.rsplit("(", 1)[-1].rstrip(")") if value else None
                if not same(current, wanted):
                    diff[name] = value
                continue
            plan = self._compare.get(name)
            if plan is None:
                attribute = run.attributes.get(name)
                kind = REMOTE_KINDS.get((attribute or {}).get("type"))
                plan = self._compare[name] = (web_name(attribute) if attribute else name,
                                              kind == DATE)
            current = row.get(plan[0])
            equal = remote_date_equal(current, value) if plan[1] else same(current, value)
            if not equal:
                diff[name] = value
        return diff


class FromCrmValues:
    """The ERP values of CRM rows, for one run from the CRM."""

    def __init__(self, run):
        self.run = run
        self.model = run.model
        self.next_number = {}  # series prefix -> next free number, within this run
        self._fields = self._shared = None

    def fields(self) -> list:
        """Per field mapping of the direction, resolved once per run: (field mapping, ERP model
        field, converter, CRM attribute, the path's first link or None, whether the field is a
        relation (None: no field), its attname, its name, whether it is the ERP's key)."""
        if self._fields is None:
            self._fields = []
            for fm in self.run.fields:
                if not fm.local_field:
                    continue
                field = resolve_local_field(self.model, fm.local_field)[0]
                attribute = self.run.attributes.get(fm.remote_attribute)
                head = fm.local_field.split(".", 1)[0] if "." in fm.local_field else None
                known = field is not None
                self._fields.append((
                    fm, field, local_converter(fm, field, attribute), fm.remote_attribute, head,
                    field.is_relation if known else None, field.attname if known else None,
                    field.name if known else None, known and field == self.run.local_key))
        return self._fields

    def shared(self) -> set:
        """The ERP attnames of the fields both directions write (those a conflict is about)."""
        if self._shared is None:
            self._shared = {_attname(fm) for fm in self.run.bidirectional if fm.local_field}
        return self._shared

    def values(self, row, resolve, paths, create: bool, record=None) -> dict:
        """{attname: value} of the ERP record from the row's mapped attributes."""
        result = {}
        for fm, field, convert, remote, head, relation, attname, name, key in self.fields():
            source = remote_value(row, remote) if remote else None
            value = convert(source, resolve)
            if isinstance(value, Reference):
                raise ValueProblem(f"{fm.local_field}: {value} could not be resolved.")
            if head is not None:
                if record is not None and value is None and \
                        local_value(record, fm.local_field) is None:
                    continue  # both empty: keep the ERP's link (a company with no customer)
                target = paths.find(fm, value)
                if value is not None and target is None and not fm.clear_value_on_failed_sync:
                    raise ValueProblem(
                        f"{fm.local_field}: no {head} refers to {record_key(value)}. "
                        f"Set {fm.local_field} on the {head} first.")
                result[f"{head}_id"] = target.pk if target else None
            elif relation if relation is not None else field.is_relation:
                result[attname] = value.pk if value is not None else None
            elif create and value in (None, "") and name in result:
                continue
            elif key and value in (None, ""):
                continue  # an empty CRM value never clears the No. (the series gave it one)
            else:
                result[attname] = value
        return result

    def new_record(self, values: dict):
        """A new ERP record: the mapping's ERP template, then the row's values (`values`)."""
        record = new_instance(self.model)
        for name, value in (self.run.mapping.local_template or {}).items():
            field, _ = resolve_local_field(self.model, name)
            if field is not None and field.is_relation:
                related = field.related_model._default_manager.filter(
                    **{"code" if hasattr(field.related_model, "code") else "no": value}).first()
                setattr(record, field.attname, related.pk if related else None)
            elif field is not None:
                setattr(record, field.attname, value)
        for name, value in values.items():
            if value in (None, "") and getattr(record, name, None) not in (None, ""):
                continue  # an empty CRM value never overwrites the template's default
            setattr(record, name, value)
        self.number(record)
        record.modified_at = timezone.now()
        return record

    def number(self, record):
        """A number from the template's series (CRM####) when the mapped key is empty."""
        key = self.run.local_key
        if key is None or getattr(record, key.attname):
            return
        pattern = (self.run.mapping.local_template or {}).get(key.name) or f"CRM{'#' * 6}"
        match = SERIES.search(pattern)
        if not match:
            return
        prefix = pattern[: match.start()]
        if prefix not in self.next_number:
            last = self.model._default_manager.filter(**{f"{key.name}__startswith": prefix}) \
                .aggregate(last=Max(key.name))["last"]
            tail = last[len(prefix):] if last else ""
            self.next_number[prefix] = int(tail) + 1 if tail.isdigit() else 1
        following = self.next_number[prefix]
        self.next_number[prefix] += 1
        setattr(record, key.attname, f"{prefix}{following:0{len(match.group())}d}")


class PathTargets:
    """For `company.customer`: the company contacts that refer to each customer, per page."""

    def __init__(self, run, rows, resolve):
        self.by_path = {}
        for fm in run.fields:
            if "." not in fm.local_field:
                continue
            head, rest = fm.local_field.split(".", 1)
            head_field = run.model._meta.get_field(head)
            wanted = [resolve(fm.lookup_mapping, remote_value(row, fm.remote_attribute))
                      for row in rows if fm.lookup_mapping and
                      remote_value(row, fm.remote_attribute)]
            pks = {w.pk for w in wanted if w is not None}
            found = {}
            query = head_field.related_model._default_manager.filter(
                **{f"{rest.replace('.', '__')}__in": pks}).order_by("pk")
            for candidate in query:
                found.setdefault(getattr(candidate, rest.replace(".", "_") + "_id", None),
                                 candidate)
            self.by_path[fm.pk] = found

    def find(self, fm, value):
        if value is None:
            return None
        return self.by_path.get(fm.pk, {}).get(value.pk)


def _attname(fm):
    name = fm.local_field.split(".", 1)[0]
    field = fm.table_mapping.local_model_class._meta.get_field(name)
    return field.attname
