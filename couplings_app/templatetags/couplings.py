"""Template tags the mappings pages include: the question at the end of a full synchronization,
and a mapping's No. of Errors / No. of Skipped."""

from django import template
from django.db.models import Q

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.full import full_sync_state

register = template.Library()


@register.inclusion_tag("couplings_app/_full_sync_question.html", takes_context=True)
def full_sync_question(context):
    # An inclusion tag renders in a context of its own: the context processors' `perms` is not
    # in it, so whether the user may answer Yes is decided here.
    request = context.get("request")
    state = full_sync_state(request.session) if request is not None else {}
    user = getattr(request, "user", None)
    return {**state, "csrf_token": context.get("csrf_token"),
            "can_answer_yes": bool(user and user.has_perm("mappings_app.change_tablemapping"))}


@register.simple_tag
def crm_state(row):
    """The coupling state of an ERP list row (annotated by erp_pages) or of a Coupling."""
    from couplings_app import services

    if isinstance(row, Coupling):
        return services.coupling_state(row)
    return services.coupling_state(exists=getattr(row, "crm_coupled", False),
                                   pending=getattr(row, "crm_pending", False),
                                   deleted_side=getattr(row, "crm_deleted_side", "") or "")


@register.inclusion_tag("couplings_app/_state_badge.html")
def state_badge(state):
    return {"state": state}


@register.simple_tag
def mapping_counts(mapping) -> dict:
    failed = Q(last_result_to_crm=SyncResult.FAILURE) | Q(last_result_from_crm=SyncResult.FAILURE)
    return {
        "errors": SyncError.objects.filter(mapping=mapping).count(),
        "skipped": Coupling.objects.filter(mapping=mapping).filter(Q(skipped=True) | failed)
        .count(),
    }
