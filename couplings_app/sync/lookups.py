"""References translated through couplings, loaded once per page (never per record), in IN
lists of a bounded size (a page of 5,000 invoices may name 5,000 customers).

A customer's salesperson becomes the account's owner through the couplings of SALESPEOPLE; a
CRM account's owner becomes the customer's salesperson the same way back.
"""

from collections import defaultdict

from couplings_app.models import Coupling
from couplings_app.sync.context import in_chunks, prefetch
from mappings_app.validation import LOOKUP, REMOTE_KINDS
from mappings_app.values import local_value, remote_value


def lookup_fields(run):
    return [fm for fm in run.fields
            if fm.lookup_mapping_id and fm.remote_attribute
            and REMOTE_KINDS.get((run.attributes.get(fm.remote_attribute) or {}).get("type"))
            == LOOKUP]


class ToCrmLookups:
    """(mapping, local record) → coupled CRM id, for the records of one page."""

    def __init__(self, run, records):
        wanted = defaultdict(set)
        fields = lookup_fields(run)
        # The related records these paths reach, loaded for the whole page unless the page
        # already holds them (a caller that did not prefetch would read them one by one).
        prefetch(records, sorted({fm.local_field.replace(".", "__") for fm in fields}))
        for fm in fields:
            for record in records:
                related = local_value(record, fm.local_field)
                if related is not None:
                    wanted[fm.lookup_mapping].add(related.pk)
        self.ids = {}
        for target, pks in wanted.items():
            for chunk in in_chunks(pks):
                rows = Coupling.objects.filter(
                    local_model=target.local_model, remote_entity=target.remote_entity,
                    local_id__in=chunk, pending_create=False,
                ).values_list("local_id", "remote_id")
                self.ids.update(((target.pk, local_id), remote_id) for local_id, remote_id in rows)

    def __call__(self, mapping, record):
        return self.ids.get((mapping.pk, record.pk))


class FromCrmLookups:
    """(mapping, CRM id) → coupled local record, for the rows of one page."""

    def __init__(self, run, rows):
        self.run, self.names = run, {}
        self.wanted = wanted = defaultdict(set)
        for fm in lookup_fields(run):
            for row in rows:
                value = remote_value(row, fm.remote_attribute)
                if value:
                    wanted[fm.lookup_mapping].add(str(value).lower())
        self.records = {}
        for target, remote_ids in wanted.items():
            pairs = {}
            for chunk in in_chunks(remote_ids):
                pairs.update(Coupling.objects.filter(
                    remote_entity=target.remote_entity, local_model=target.local_model,
                    remote_id__in=chunk, pending_create=False,
                ).values_list("remote_id", "local_id"))
            model = target.local_model_class
            found = model._default_manager.in_bulk(set(pairs.values())) if pairs else {}
            for remote_id, local_id in pairs.items():
                if local_id in found:
                    self.records[(target.pk, str(remote_id).lower())] = found[local_id]

    def __call__(self, mapping, remote_id):
        return self.records.get((mapping.pk, str(remote_id).lower()))

    def describe(self, mapping, remote_id) -> str | None:
        """The name of a CRM record no coupling translates, for the message that says so: the
        page's such records of `mapping` are read in one request, the first time one is asked."""
        names = self.names.get(mapping.pk)
        if names is None:
            names = self.names[mapping.pk] = self._names(mapping)
        return names.get(str(remote_id).lower())

    def _names(self, mapping) -> dict:
        from dataverse.errors import DataverseError
        from mappings_app import metadata

        unresolved = sorted(i for i in self.wanted.get(mapping, ())
                            if (mapping.pk, i) not in self.records)
        name = metadata.entity(mapping.remote_entity, fetch=False).primary_name
        if not unresolved or not name:
            return {}
        try:
            rows = self.run.client.get_many(mapping.remote_entity_set, mapping.remote_key,
                                            unresolved, select=[mapping.remote_key, name])
        except DataverseError:
            return {}  # the message names the record by its id instead
        return {str(k).lower(): row.get(name) for k, row in rows.items() if row.get(name)}


def bind_name(attribute: dict, target_entity: str) -> str:
    """The navigation property to @odata.bind a lookup (polymorphic ones name their target)."""
    targets = attribute.get("targets") or []
    name = attribute["name"]
    return f"{name}_{target_entity}" if len(targets) > 1 else name
