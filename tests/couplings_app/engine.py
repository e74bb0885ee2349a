"""What the engine's end-to-end tests do again and again: couple the demo by Match-Based
Coupling and run a full synchronization, read a customer's account, pick a job by mapping."""

from couplings_app.models import Coupling
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.full import synchronize_all
from couplings_app.sync.runner import synchronize


def match_demo(crm, demo):
    """Match-Based Coupling of the demo's currencies, salespeople, customers and items."""
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER", "ITEM-PRODUCT"):
        match_based_coupling(demo[name], client=crm)


def couple_and_full_sync(crm, demo):
    """The demo coupled where it matches, then a full synchronization of every mapping."""
    match_demo(crm, demo)
    return synchronize_all(client=crm, full=True)


def account_of(crm, customer):
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk,
                                    remote_entity="account")
    return crm.get("accounts", str(coupling.remote_id))


def by_name(jobs, name, direction=None):
    return [j for j in jobs if j.mapping_name == name and (direction is None or
                                                           j.direction == direction)]



def synchronize_basics(crm, demo):
    """Currencies and salespeople coupled where they match and synchronized in full: what a
    customer needs before it synchronizes."""
    for name in ("CURRENCY", "SALESPEOPLE"):
        match_based_coupling(demo[name], client=crm)
        synchronize(demo[name], client=crm, full=True, only_coupled=False)
