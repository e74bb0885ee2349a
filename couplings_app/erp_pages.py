"""The Dynamics 365 Sales menu of the ERP pages: on every table a mapping names, each record gets
Set Up Coupling, Match-Based Coupling, Synchronize Now, Delete Coupling, Synchronization Log and
the coupled CRM record; lists get a Coupled column and filter and bulk actions. Added to the ERP
page site as a syncadmin PageExtension (no ERP view knows about couplings)."""

import django_filters
import django_tables2 as tables
from django.db.models import Exists, OuterRef, Subquery

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from mappings_app.models import TableMapping
from syncadmin.pages import PageExtension

PERMS = {
    "can_couple": "mappings_app.couple_tablemapping",
    "can_sync": "mappings_app.sync_tablemapping",
    "can_view_log": "couplings_app.view_syncjob",
}


def mappings_for(request, model) -> list[TableMapping]:
    """The mappings of a model, read once per request."""
    cache = request.__dict__.setdefault("_crm_mappings", {})
    label = model._meta.label_lower
    if label not in cache:
        cache[label] = list(TableMapping.objects.filter(local_model=label)
                            .order_by("priority", "name"))
    return cache[label]


def _perms(request) -> dict:
    return {name: request.user.has_perm(perm) for name, perm in PERMS.items()}


class CoupledColumn(tables.TemplateColumn):
    def __init__(self):
        super().__init__(template_name="couplings_app/_erp_row_menu.html", verbose_name="CRM",
                         orderable=False, accessor="pk", attrs={"td": {"class": "text-nowrap"}})


class CrmExtension(PageExtension):
    bulk_templates = ("couplings_app/_erp_bulk_actions.html",)
    record_templates = ("couplings_app/_erp_record_menu.html",)

    def list_queryset(self, page, queryset, request):
        mappings = mappings_for(request, page.model)
        if not mappings:
            return queryset
        first = mappings[0]
        couplings = Coupling.objects.filter(local_model=first.local_model,
                                            remote_entity=first.remote_entity,
                                            local_id=OuterRef("pk"))
        # One coupling per record and entity (a unique constraint): its fields as subqueries.
        return queryset.annotate(
            crm_coupled=Exists(couplings),
            crm_remote_id=Subquery(couplings.values("remote_id")[:1]),
            crm_pending=Exists(couplings.filter(pending_create=True)),
            crm_deleted_side=Subquery(couplings.values("deleted_side")[:1]),
            crm_skipped=Exists(couplings.filter(skipped=True)),
            crm_failed=Exists(couplings.filter(last_result_to_crm=SyncResult.FAILURE))
            | Exists(couplings.filter(last_result_from_crm=SyncResult.FAILURE)),
        )

    def filterset_class(self, page, filterset_class, request):
        if not mappings_for(request, page.model):
            return filterset_class

        from couplings_app import services

        first = mappings_for(request, page.model)[0]

        def coupled(queryset, name, value):
            # "Yes" is a coupling whose CRM record exists: not one still to be created, nor
            # one whose counterpart is known deleted (those have their own choice).
            if value == "no":
                return queryset.filter(crm_coupled=False)
            keys = {"yes": services.COUPLED}
            key = keys.get(value, value)
            if key not in services.STATES or key == services.NOT_COUPLED:
                return queryset
            return queryset.filter(Exists(Coupling.objects.filter(
                services.state_q(key), local_model=first.local_model,
                remote_entity=first.remote_entity, local_id=OuterRef("pk"))))

        field = django_filters.ChoiceFilter(
            label="Coupled to Dynamics 365 Sales", method=lambda qs, n, v: coupled(qs, n, v),
            choices=[("yes", "Yes"), ("no", "No"),
                     (services.NOT_CREATED, services.STATES[services.NOT_CREATED].label),
                     (services.CRM_DELETED, services.STATES[services.CRM_DELETED].label)],
            empty_label="Any")
        return type(f"Crm{filterset_class.__name__}", (filterset_class,), {"coupled": field})

    def extra_columns(self, page, request):
        if not mappings_for(request, page.model):
            return []
        return [("crm", CoupledColumn())]

    def list_context(self, page, request):
        mappings = mappings_for(request, page.model)
        return {"crm_mappings": mappings, "crm_mapping": mappings[0] if mappings else None,
                "crm": _perms(request)}

    def detail_context(self, page, obj, request):
        from couplings_app import services

        mappings = mappings_for(request, page.model)
        if not mappings:
            return {}
        couplings = {(c.remote_entity): c for c in Coupling.objects.filter(
            local_model=page.model._meta.label_lower, local_id=obj.pk)}
        entries = []
        for mapping in mappings:
            coupling = couplings.get(mapping.remote_entity)
            state = services.coupling_state(coupling)
            entries.append({
                "mapping": mapping, "coupling": coupling, "state": state,
                "crm_url": services.crm_url(mapping.remote_entity_set, coupling.remote_id)
                if state.links_crm else None,
            })
        return {"crm_entries": entries, "crm": _perms(request)}


def install():
    from erp_app.pages import site

    site.extend(CrmExtension())
